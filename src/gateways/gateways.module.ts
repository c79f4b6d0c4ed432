import { readFileSync } from 'node:fs';
import { Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { BrokerMetrics } from '../metrics/broker-metrics';
import { GatewayCall } from './gateway-call';
import { GatewayHttpClient } from './gateway-http.client';
import { GatewayRegistry } from './gateway-registry';
import { GatewayResilience } from './gateway-resilience';
import { PROVIDERS } from './providers';

@Module({
  providers: [
    {
      // One client (one undici Pool per origin) shared by every provider.
      provide: GatewayHttpClient,
      inject: [AppConfig],
      useFactory: ({ values: c }: AppConfig) =>
        new GatewayHttpClient({
          connectTimeoutMs: c.GATEWAY_CONNECT_TIMEOUT_MS,
          headersTimeoutMs: c.GATEWAY_HEADERS_TIMEOUT_MS,
          bodyTimeoutMs: c.GATEWAY_BODY_TIMEOUT_MS,
          maxResponseBytes: c.GATEWAY_MAX_RESPONSE_BYTES,
          connectionsPerOrigin: c.GATEWAY_CONNECTIONS_PER_ORIGIN,
          ca: c.GATEWAY_CA_FILE ? readFileSync(c.GATEWAY_CA_FILE, 'utf8') : undefined,
        }),
    },
    {
      provide: GatewayRegistry,
      inject: [GatewayHttpClient, AppConfig],
      useFactory: (http: GatewayHttpClient, { values: config }: AppConfig) =>
        new GatewayRegistry(PROVIDERS.map((spec) => ({ spec, gateway: spec.create({ http, config }) }))),
    },
    {
      // One policy per gateway origin, shared by every operation on it (issue, close).
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
    GatewayCall,
  ],
  exports: [GatewayRegistry, GatewayResilience, GatewayCall],
})
export class GatewaysModule implements OnApplicationShutdown {
  constructor(@Inject(GatewayHttpClient) private readonly http: GatewayHttpClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.http.close();
  }
}
