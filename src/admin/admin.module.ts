import { Module } from '@nestjs/common';
import { DevicesModule } from '../devices/devices.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { OperatorsModule } from '../operators/operators.module';
import { TerminalsModule } from '../terminals/terminals.module';
import { AdminAudit } from './admin-audit';
import { DevicesController } from './devices.controller';
import { DevicesService } from './devices.service';
import { TerminalsController } from './terminals.controller';
import { TerminalsService } from './terminals.service';

/** The admin API (/v1/admin/...): terminals and devices, for operators with the admin role. */
@Module({
  imports: [OperatorsModule, DevicesModule, TerminalsModule, GatewaysModule],
  controllers: [TerminalsController, DevicesController],
  providers: [AdminAudit, TerminalsService, DevicesService],
})
export class AdminModule {}
