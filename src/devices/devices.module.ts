import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { TerminalsModule } from '../terminals/terminals.module';
import { DeviceAuthGuard } from './device-auth.guard';
import { DeviceDirectory } from './device-directory';
import { DeviceEnrollment } from './device-enrollment';
import { DeviceJwtStrategy } from './device-jwt.strategy';
import { DeviceLiveness } from './device-liveness';
import { DeviceRepository } from './device.repository';
import { ReplayGuard } from './replay-guard';

@Module({
  imports: [PassportModule, TerminalsModule],
  providers: [DeviceRepository, DeviceDirectory, ReplayGuard, DeviceJwtStrategy, DeviceAuthGuard, DeviceEnrollment, DeviceLiveness],
  exports: [DeviceDirectory, DeviceAuthGuard, DeviceEnrollment, DeviceRepository, DeviceLiveness],
})
export class DevicesModule {}
