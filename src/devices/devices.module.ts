import { Module } from '@nestjs/common';
import { TerminalsModule } from '../terminals/terminals.module';
import { DeviceAuthGuard } from './device-auth.guard';
import { DeviceAuthenticator } from './device-authenticator';
import { DeviceDirectory } from './device-directory';
import { DeviceEnrollment } from './device-enrollment';
import { DeviceLiveness } from './device-liveness';
import { DeviceRepository } from './device.repository';
import { ReplayGuard } from './replay-guard';

@Module({
  imports: [TerminalsModule],
  providers: [DeviceRepository, DeviceDirectory, ReplayGuard, DeviceAuthenticator, DeviceAuthGuard, DeviceEnrollment, DeviceLiveness],
  exports: [DeviceDirectory, DeviceAuthenticator, DeviceAuthGuard, DeviceEnrollment, DeviceRepository, DeviceLiveness],
})
export class DevicesModule {}
