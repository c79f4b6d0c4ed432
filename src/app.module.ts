import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { ZodValidationPipe } from 'nestjs-zod';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AdminModule } from './admin/admin.module';
import { AuditModule } from './audit/audit.module';
import { AuditQueryModule } from './audit/query/audit-query.module';
import { AuditSealModule } from './audit/seal/audit-seal.module';
import { BootstrapModule } from './bootstrap/bootstrap.module';
import { BrokerConfigModule } from './config/config.module';
import { ConsoleModule } from './console/console.module';
import { validateConfig } from './config/config.schema';
import { DatabaseModule } from './database/database.module';
import { EnrollmentModule } from './enrollment/enrollment.module';
import { HealthModule } from './health/health.module';
import { loggerOptions } from './http/logging';
import { ProblemDetailsFilter } from './http/problem-details.filter';
import { MetricsModule } from './metrics/metrics.module';
import { OperatorsModule } from './operators/operators.module';
import { RateLimitsModule } from './rate-limits/rate-limits.module';
import { RedisModule } from './redis/redis.module';
import { SecretsModule } from './secrets/secrets.module';
import { SessionsModule } from './sessions/sessions.module';

export interface AppOptions {
  env?: Record<string, string | undefined>;
  /** Where log lines go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
}

@Module({})
export class AppModule {
  static forRoot(options: AppOptions = {}): DynamicModule {
    const env = options.env ?? process.env;
    const config = validateConfig(env);
    return {
      module: AppModule,
      imports: [
        BrokerConfigModule.forRoot(env),
        LoggerModule.forRoot(loggerOptions(config, options.logDestination)),
        // The recurring background jobs (purges, flushes, sealing) register in its SchedulerRegistry.
        ScheduleModule.forRoot(),
        DatabaseModule,
        MetricsModule,
        RedisModule,
        RateLimitsModule,
        SecretsModule,
        AuditModule,
        AuditSealModule,
        AuditQueryModule,
        HealthModule,
        OperatorsModule,
        AdminModule,
        EnrollmentModule,
        SessionsModule,
        ...(config.BOOTSTRAP_ENROLLMENT ? [BootstrapModule] : []),
        ConsoleModule.forRoot(config),
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        // Every body, query and path DTO made with createZodDto is checked against its zod schema.
        { provide: APP_PIPE, useClass: ZodValidationPipe },
      ],
    };
  }
}
