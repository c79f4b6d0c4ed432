import { Logger, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { BrokerMetrics } from '../metrics/broker-metrics';
import { GatewayResilience } from './gateway-call';
import { DevicesModule } from '../devices/devices.module';
import { GatewaysModule } from '../gateways/gateways.module';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { TerminalsModule } from '../terminals/terminals.module';
import { SessionCloser } from './session-closer';
import { SessionIssuer } from './session-issuer';
import { SessionOwnership } from './session-ownership';
import { RequestDeadline } from './request-deadline';
import { SessionsController } from './sessions.controller';
import { TerminalProviderConfigs } from './terminal-provider-config';

@Module({
  imports: [DevicesModule, TerminalsModule, GatewaysModule, IdempotencyModule],
  controllers: [SessionsController],
  providers: [
    RequestDeadline,
    SessionIssuer,
    SessionCloser,
    SessionOwnership,
    TerminalProviderConfigs,
    {
      provide: GatewayResilience,
      inject: [AppConfig, BrokerMetrics],
      useFactory: ({ values: c }: AppConfig, metrics: BrokerMetrics) => {
        const logger = new Logger('GatewayResilience');
        return new GatewayResilience({
          maxAttempts: c.GATEWAY_RETRY_MAX_ATTEMPTS,
          baseDelayMs: c.GATEWAY_RETRY_BASE_DELAY_MS,
          breakerThreshold: c.GATEWAY_BREAKER_THRESHOLD,
          breakerHalfOpenAfterMs: c.GATEWAY_BREAKER_HALF_OPEN_AFTER_MS,
          bulkheadLimit: c.GATEWAY_BULKHEAD_LIMIT,
          bulkheadQueue: c.GATEWAY_BULKHEAD_QUEUE,
          onBreakerStateChange: (origin, state) => {
            metrics.setBreakerState(origin, state);
            logger.warn(`circuit breaker for ${origin} is now ${state}`);
          },
          onBulkheadRejected: (origin) => metrics.bulkheadRejections.inc({ origin }),
          onCall: (origin, seconds, result) => metrics.gatewayLatency.observe({ origin, result }, seconds),
        });
      },
    },
  ],
  exports: [GatewayResilience, TerminalProviderConfigs],
})
export class SessionsModule {}
