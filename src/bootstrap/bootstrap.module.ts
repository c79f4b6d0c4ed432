import { Module } from '@nestjs/common';
import { DevicesModule } from '../devices/devices.module';
import { BootstrapController } from './bootstrap.controller';
import { BootstrapGuard } from './bootstrap.guard';

@Module({ imports: [DevicesModule], controllers: [BootstrapController], providers: [BootstrapGuard] })
export class BootstrapModule {}
