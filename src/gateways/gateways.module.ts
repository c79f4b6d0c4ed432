import { readFileSync } from 'node:fs';
import { Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { GatewayRegistry } from './gateway-registry';
import { HypGatewayClient } from './hyp/hyp-gateway.client';
import { HypGatewayProvider } from './hyp/hyp-gateway.provider';

@Module({
  providers: [
    {
      provide: HypGatewayClient,
      inject: [AppConfig],
      useFactory: ({ values: c }: AppConfig) =>
        new HypGatewayClient({
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
      inject: [HypGatewayClient],
      useFactory: (hyp: HypGatewayClient) => new GatewayRegistry([new HypGatewayProvider(hyp)]),
    },
  ],
  exports: [GatewayRegistry],
})
export class GatewaysModule implements OnApplicationShutdown {
  constructor(@Inject(HypGatewayClient) private readonly hyp: HypGatewayClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.hyp.close();
  }
}
