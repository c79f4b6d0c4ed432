import { Module } from '@nestjs/common';
import { DevicesModule } from '../devices/devices.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { TerminalsModule } from '../terminals/terminals.module';
import { SessionCloser } from './session-closer';
import { SessionIssuer } from './session-issuer';
import { SessionOwnership } from './session-ownership';
import { RequestDeadline } from './request-deadline';
import { SessionRoute } from './session-route';
import { SessionsController } from './sessions.controller';

@Module({
  imports: [DevicesModule, TerminalsModule, GatewaysModule, IdempotencyModule],
  controllers: [SessionsController],
  providers: [RequestDeadline, SessionIssuer, SessionCloser, SessionOwnership, SessionRoute],
})
export class SessionsModule {}
