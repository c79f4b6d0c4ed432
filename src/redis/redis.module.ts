import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';

/** The shared Redis client, or null when REDIS_URL is unset (single-instance state stays in process/Postgres). */
export const REDIS = Symbol('REDIS');
export type RedisClient = Redis | null;

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: ({ values }: AppConfig): RedisClient => {
        if (!values.REDIS_URL) return null;
        const logger = new Logger('Redis');
        const client = new Redis(values.REDIS_URL, {
          maxRetriesPerRequest: 2,
          enableOfflineQueue: true,
          lazyConnect: false,
          // A silent network drop leaves a command unanswered, not failed: without these it would
          // wait for the OS to give up on the connection (minutes). Queued commands time out too.
          commandTimeout: values.REDIS_COMMAND_TIMEOUT_MS,
          connectTimeout: values.REDIS_CONNECT_TIMEOUT_MS,
          keepAlive: values.REDIS_KEEPALIVE_DELAY_MS,
        });
        // Connection errors are reported, not thrown: callers see failed commands and answer 503.
        client.on('error', (err: Error) => logger.warn(`redis: ${err.message}`));
        return client;
      },
    },
  ],
  exports: [REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}

  async onApplicationShutdown(): Promise<void> {
    if (!this.redis) return;
    // quit() waits for a connection that may never come back; disconnect() also stops reconnecting.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }
}
