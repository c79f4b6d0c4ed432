import { Module } from '@nestjs/common';
import { DevicesModule } from '../devices/devices.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { TerminalsModule } from '../terminals/terminals.module';
import { SessionIssuer } from './session-issuer';
import { SessionsController } from './sessions.controller';

@Module({
  imports: [DevicesModule, TerminalsModule, GatewaysModule],
  controllers: [SessionsController],
  providers: [SessionIssuer],
})
export class SessionsModule {}
