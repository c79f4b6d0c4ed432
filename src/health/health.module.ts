import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { GatewaysModule } from '../gateways/gateways.module';
import { HealthController } from './health.controller';
import { ReadinessChecks } from './readiness-checks';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), GatewaysModule],
  controllers: [HealthController],
  providers: [ReadinessChecks],
})
export class HealthModule {}
