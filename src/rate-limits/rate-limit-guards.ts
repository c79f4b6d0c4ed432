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
    @Inject(REDIS) protected readonly redis: RedisClient,
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
      if (!this.redis) return await super.canActivate(context);
      const req = context.switchToHttp().getRequest<Record<string, unknown>>();
      // Already counted with the device's jti claim, while it was authenticated (claimJtiAndCount).
      if (COUNTED.has(req)) return true;
      return await this.checkInRedis(this.redis, req, context);
    } catch (err) {
      if (err instanceof BrokerError) throw err;
      // The counter store (Redis) failed: the limit cannot be checked, which is ours to answer (503), not a 500.
      throw new DependencyUnavailableError('Rate limiting is unavailable; retry later.', 2, { cause: err });
    }
  }

  protected override throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    this.metrics.rateLimitRejections.inc({ limit: detail.key.split(':')[0] ?? 'unknown' });
    return Promise.reject(new RateLimitedError('Rate limit exceeded; retry later.', Math.max(1, Math.ceil(detail.timeToBlockExpire || detail.timeToExpire))));
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
   * being counted. With `jti`, the token's replay claim (SET NX PX) goes first in the same script:
   * false when it was taken already (then nothing is counted). Throws RateLimitedError over a limit.
   */
  protected async checkInRedis(
    redis: NonNullable<RedisClient>,
    req: Record<string, unknown>,
    context: ExecutionContext | undefined,
    jti?: { key: string; keepMs: number },
  ): Promise<boolean> {
    const keys: string[] = jti ? [jti.key] : [];
    const args: number[] = [jti ? 1 : 0, jti?.keepMs ?? 0, this.throttlers.length];
    const checks: Array<{ name: string; key: string; tracker: string; ttl: number; limit: number }> = [];
    for (const t of this.throttlers) {
      const name = t.name ?? 'default';
      const ttl = Number(t.ttl);
      const limit = Number(t.limit);
      const getTracker = t.getTracker ?? this.commonOptions.getTracker ?? ((r: Record<string, unknown>) => this.getTracker(r));
      const tracker = await getTracker(req, context as ExecutionContext);
      const key = this.generateKey(context as ExecutionContext, tracker, name);
      keys.push(`{${key}:${name}}:hits`, `{${key}:${name}}:blocked`);
      args.push(ttl, limit, Number(t.blockDuration ?? ttl));
      checks.push({ name, key, tracker, ttl, limit });
    }
    const run = (redis as unknown as Record<string, (...a: Array<string | number>) => Promise<number[]>>)[LIMITS_COMMAND];
    const [index, totalHits, timeToExpire, , timeToBlockExpire] = await run.call(redis, keys.length, ...keys, ...args);
    if (index === -1) return false;
    if (index === 0) return true;
    const c = checks[index - 1];
    await this.throwThrottlingException(context as ExecutionContext, {
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
 * KEYS: the jti key when ARGV[1] is 1, then the hits and blocked key of each limit, in order.
 * ARGV: 1 or 0 (claim a jti first), its retention (ms), the number of limits, then ttl, limit and
 * block duration (ms) of each. Returns {-1} when the jti was taken already (nothing counted), {0}
 * when every limit passed, else {the limit's 1-based index, totalHits, timeToExpire, 1,
 * timeToBlockExpire}. Per limit, the throttler storage's own script (INCR, window expiry, block
 * past the limit). Run by EVALSHA (ioredis defineCommand): the text is sent once, not per request.
 */
const LIMITS_SCRIPT = `
local offset = 0
if ARGV[1] == '1' then
  if not redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[2]), 'NX') then
    return { -1 }
  end
  offset = 1
end
local n = tonumber(ARGV[3])
for i = 1, n do
  local hitKey = KEYS[offset + 2 * i - 1]
  local blockKey = KEYS[offset + 2 * i]
  local ttl = tonumber(ARGV[3 * i + 1])
  local limit = tonumber(ARGV[3 * i + 2])
  local blockDuration = tonumber(ARGV[3 * i + 3])
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

/** Requests whose device limits were counted with the jti claim: the guard lets them through. */
const COUNTED = new WeakSet<object>();

/**
 * Per device, per terminal and global limits on device routes; runs after DeviceAuthGuard, which
 * every device route pairs with it. With Redis, authentication already counted them in the round
 * trip of the jti claim (claimJtiAndCount), and the guard only checks that it did.
 */
@Injectable()
export class DeviceRateLimitGuard extends BrokerThrottlerGuard {
  protected readonly limits = DEVICE_LIMITS;

  /**
   * With Redis: claims `jti.key` for `jti.keepMs` and counts `caller`'s device limits for `req` in
   * one round trip (two before: the claim, then the limits). false: the jti was used already,
   * nothing counted. Throws RateLimitedError over a limit (the jti then stays used, as before).
   * null without Redis: the caller claims the jti its own way, and the guard counts in process.
   */
  async claimJtiAndCount(
    req: { body?: unknown; ip?: string },
    caller: { deviceId: string; terminalNumbers: readonly string[] },
    jti: { key: string; keepMs: number },
  ): Promise<boolean | null> {
    if (!this.redis) return null;
    // What the trackers read (ThrottlerModule options): the device, the body's terminal, the address.
    const first = await this.checkInRedis(this.redis, { user: caller, body: req.body, ip: req.ip }, undefined, jti);
    if (first) COUNTED.add(req);
    return first;
  }
}

/**
 * The operator limit, keyed by the operator's subject: OperatorAuthGuard runs it (through
 * OperatorAccessAccounting) once the token is verified, on every route it protects. Not a global
 * guard matching URL prefixes, which an encoded path (/v1/%61dmin/...) passed, and which ran
 * before authentication, so every operator behind one address shared one budget.
 */
@Injectable()
export class OperatorRateLimitGuard extends BrokerThrottlerGuard {
  protected readonly limits = OPERATOR_LIMITS;
}
