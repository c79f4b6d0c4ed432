import { Global, Module } from '@nestjs/common';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerModule, type ThrottlerOptions } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { OPERATOR_ACCESS_CHECKS } from '../operators/operator-access-checks';
import { REDIS, type RedisClient } from '../redis/redis.module';
import { AuthRefusals } from './auth-refusals';
import { OperatorAccessAccounting } from './operator-access-accounting';
import { DeviceRateLimitGuard, OperatorRateLimitGuard } from './rate-limit-guards';

type Req = { user?: { deviceId?: string; subject?: string; terminalNumbers?: readonly string[] }; body?: { terminalNumber?: unknown }; ip?: string };

/** Which terminal a session request is for: the one named, or the device's only one. */
function terminalOf(req: Req): string {
  const named = req.body?.terminalNumber;
  if (typeof named === 'string') return named;
  const bound = req.user?.terminalNumbers;
  return bound && bound.length === 1 ? bound[0] : 'unspecified';
}

/**
 * Rate limits with @nestjs/throttler. With REDIS_URL every instance counts in Redis
 * (@nest-lab/throttler-storage-redis), so a limit holds across the fleet; without, in process.
 */
@Global()
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [AppConfig, REDIS],
      useFactory: ({ values: c }: AppConfig, redis: RedisClient) => ({
        throttlers: [
          { name: 'device', ttl: 60_000, limit: c.DEVICE_RATE_LIMIT_PER_MINUTE, getTracker: (req: Req) => req.user?.deviceId ?? 'anonymous' },
          { name: 'terminal', ttl: 60_000, limit: c.TERMINAL_RATE_LIMIT_PER_MINUTE, getTracker: (req: Req) => terminalOf(req) },
          { name: 'global', ttl: 1_000, limit: c.GLOBAL_RATE_LIMIT_PER_SECOND, getTracker: () => 'all' },
          // Runs after operator authentication (OperatorAuthGuard), so there is always a subject.
          { name: 'operator', ttl: 60_000, limit: c.OPERATOR_RATE_LIMIT_PER_MINUTE, getTracker: (req: Req) => `sub:${req.user?.subject ?? 'unknown'}` },
        ] satisfies ThrottlerOptions[],
        storage: redis ? new ThrottlerStorageRedisService(redis) : undefined,
        setHeaders: false,
      }),
    }),
  ],
  providers: [DeviceRateLimitGuard, OperatorRateLimitGuard, AuthRefusals, { provide: OPERATOR_ACCESS_CHECKS, useClass: OperatorAccessAccounting }],
  // OPERATOR_ACCESS_CHECKS: global, so OperatorAuthGuard (operators/, below this folder) gets it without importing upwards.
  exports: [DeviceRateLimitGuard, AuthRefusals, OPERATOR_ACCESS_CHECKS],
})
export class RateLimitsModule {}
