import { readFileSync } from 'node:fs';
import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { GatewayHttpClient } from './gateway-http.client';
import { GatewayRegistry } from './gateway-registry';
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
  ],
  exports: [GatewayRegistry],
})
export class GatewaysModule implements OnApplicationShutdown {
  constructor(@Inject(GatewayHttpClient) private readonly http: GatewayHttpClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.http.close();
  }
}
