import { ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { BrokerError, DependencyUnavailableError, RateLimitedError } from '../common/errors';
import { BrokerMetrics } from '../metrics/broker-metrics';
import { REDIS, type RedisClient } from '../redis/redis.module';

export const DEVICE_LIMITS = ['device', 'terminal', 'global'];
export const OPERATOR_LIMITS = ['operator'];

/** Answers 429 problem+json with Retry-After, and counts the refusal. */
abstract class BrokerThrottlerGuard extends ThrottlerGuard {
  protected abstract readonly limits: string[];

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly metrics: BrokerMetrics,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {
    super(options, storage, reflector);
  }

  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    this.throttlers = this.throttlers.filter((t) => this.limits.includes(t.name ?? ''));
    if (this.redis && !(LIMITS_COMMAND in this.redis)) this.redis.defineCommand(LIMITS_COMMAND, { lua: LIMITS_SCRIPT });
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      // With Redis, all of the route's limits in one round trip; in process, the throttler's own way.
      return this.redis ? await this.checkInRedis(context, this.redis) : await super.canActivate(context);
    } catch (err) {
      if (err instanceof BrokerError) throw err;
      // The counter store (Redis) failed: the limit cannot be checked, which is ours to answer (503), not a 500.
      throw new DependencyUnavailableError('Rate limiting is unavailable; retry later.', 2, { cause: err });
    }
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    this.metrics.rateLimitRejections.inc({ limit: detail.key.split(':')[0] ?? 'unknown' });
    throw new RateLimitedError('Rate limit exceeded; retry later.', Math.max(1, Math.ceil(detail.timeToBlockExpire || detail.timeToExpire)));
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    // Readable and shared by every instance (Redis storage): "<limit>:<tracker>".
    return `${name}:${tracker}`;
  }

  /**
   * The throttler's checks, in its order (shortest window first), as one script: the storage
   * would run one EVAL per limit, each sending the script's text, three round trips per device
   * request. Same keys and counting as @nest-lab/throttler-storage-redis, so instances of either
   * kind share the counts; like the throttler, the first limit found exceeded stops the rest from
   * being counted.
   */
  private async checkInRedis(context: ExecutionContext, redis: NonNullable<RedisClient>): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Record<string, unknown>>();
    const keys: string[] = [];
    const args: number[] = [];
    const checks: Array<{ name: string; key: string; tracker: string; ttl: number; limit: number }> = [];
    for (const t of this.throttlers) {
      const name = t.name ?? 'default';
      const ttl = Number(t.ttl);
      const limit = Number(t.limit);
      const tracker = await (t.getTracker ?? this.commonOptions.getTracker ?? ((r: Record<string, unknown>) => this.getTracker(r)))(req, context);
      const key = this.generateKey(context, tracker, name);
      keys.push(`{${key}:${name}}:hits`, `{${key}:${name}}:blocked`);
      args.push(ttl, limit, Number(t.blockDuration ?? ttl));
      checks.push({ name, key, tracker, ttl, limit });
    }
    const run = (redis as unknown as Record<string, (...a: Array<string | number>) => Promise<number[]>>)[LIMITS_COMMAND];
    const [index, totalHits, timeToExpire, , timeToBlockExpire] = await run.call(redis, keys.length, ...keys, checks.length, ...args);
    if (index === 0) return true;
    const c = checks[index - 1];
    await this.throwThrottlingException(context, {
      limit: c.limit,
      ttl: c.ttl,
      key: c.key,
      tracker: c.tracker,
      totalHits,
      timeToExpire: Math.ceil(timeToExpire / 1000),
      isBlocked: true,
      timeToBlockExpire: Math.ceil(timeToBlockExpire / 1000),
    });
    return false;
  }
}

const LIMITS_COMMAND = 'brokerRateLimits';

/**
 * KEYS: hits and blocked key of each limit, in order; ARGV: the number of limits, then ttl, limit
 * and block duration (ms) of each. Per limit, the storage's own script (INCR, window expiry, block
 * past the limit); returns {0} when every limit passed, else {its 1-based index, totalHits,
 * timeToExpire, 1, timeToBlockExpire}. Run by EVALSHA (ioredis defineCommand), the text sent once.
 */
const LIMITS_SCRIPT = `
local n = tonumber(ARGV[1])
for i = 1, n do
  local hitKey = KEYS[2 * i - 1]
  local blockKey = KEYS[2 * i]
  local ttl = tonumber(ARGV[3 * i - 1])
  local limit = tonumber(ARGV[3 * i])
  local blockDuration = tonumber(ARGV[3 * i + 1])
  local totalHits = redis.call('INCR', hitKey)
  local timeToExpire = redis.call('PTTL', hitKey)
  if timeToExpire <= 0 then
    redis.call('PEXPIRE', hitKey, ttl)
    timeToExpire = ttl
  end
  local isBlocked = redis.call('GET', blockKey)
  local timeToBlockExpire = 0
  if isBlocked then
    timeToBlockExpire = redis.call('PTTL', blockKey)
  elseif totalHits > limit then
    redis.call('SET', blockKey, 1, 'PX', blockDuration)
    isBlocked = '1'
    timeToBlockExpire = blockDuration
  end
  if isBlocked and timeToBlockExpire <= 0 then
    redis.call('DEL', blockKey)
    redis.call('SET', hitKey, 1, 'PX', ttl)
    totalHits = 1
    timeToExpire = ttl
    isBlocked = false
  end
  if isBlocked then
    return { i, totalHits, timeToExpire, 1, timeToBlockExpire }
  end
end
return { 0 }
`;

/** Per device, per terminal and global limits on device routes; runs after DeviceAuthGuard. */
@Injectable()
export class DeviceRateLimitGuard extends BrokerThrottlerGuard {
  protected readonly limits = DEVICE_LIMITS;
}

/**
 * The operator limit, keyed by the operator's subject: OperatorAuthGuard runs it once the token
 * is verified, on every route it protects. Not a global guard matching URL prefixes, which an
 * encoded path (/v1/%61dmin/...) passed, and which ran before authentication, so every operator
 * behind one address shared one budget.
 */
@Injectable()
export class OperatorRateLimitGuard extends BrokerThrottlerGuard {
  protected readonly limits = OPERATOR_LIMITS;
}
