import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { SessionsModule } from '../sessions/sessions.module';
import { HealthController } from './health.controller';
import { ReadinessChecks } from './readiness-checks';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), SessionsModule],
  controllers: [HealthController],
  providers: [ReadinessChecks],
})
export class HealthModule {}
