import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { BrokerError, DependencyUnavailableError } from '../common/errors';
import { GroupCommit } from '../common/group-commit';
import { RecurringJob } from '../common/recurring-job';
import { AppConfig } from '../config/app-config';
import { DatabaseConnection } from '../database/database-connection';
import { PrismaService } from '../database/prisma.service';
import { DeviceRateLimitGuard } from '../rate-limits/rate-limit-guards';
import { REDIS, type RedisClient } from '../redis/redis.module';

const CLAIM = `INSERT INTO device_jti (device_id, jti, expires_at)
  SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::timestamptz[])
  ON CONFLICT DO NOTHING
  RETURNING device_id::text, jti`;

const PURGE_EVERY_MS = 60_000;

/** Kept this much longer again than the skew, so clocks drifting slightly past it change nothing. */
const RETENTION_MARGIN_MS = 60_000;

/**
 * How long past its `exp` a jti must be remembered: a token is accepted until exp + skew, so its
 * replay record must outlive that, or a replay in the gap would pass as a first use.
 */
export function jtiRetentionPastExpiryMs(clockSkewSeconds: number): number {
  return clockSkewSeconds * 1_000 + RETENTION_MARGIN_MS;
}

interface Claim {
  deviceId: string;
  jti: string;
  expiresAt: Date;
}

/**
 * Refuses a device JWT whose `jti` was already used within its lifetime, on every instance: in
 * Redis when REDIS_URL is set (SET NX with the token's expiry), otherwise in Postgres, where
 * concurrent claims are group-committed: one INSERT ... ON CONFLICT DO NOTHING RETURNING tells
 * which of them were first.
 */
@Injectable()
export class ReplayGuard implements OnModuleInit, OnModuleDestroy {
  /** Postgres only (Redis expires a claim by its TTL). */
  private readonly purgeJob: RecurringJob;
  private readonly claims = new GroupCommit<Claim, boolean>((batch) => this.insert(batch), 1_000);
  private readonly retentionMs: number;

  constructor(
    private readonly prisma: PrismaService,
    private readonly db: DatabaseConnection,
    @Inject(REDIS) private readonly redis: RedisClient,
    config: AppConfig,
    private readonly limits: DeviceRateLimitGuard,
    scheduler: SchedulerRegistry,
  ) {
    this.retentionMs = jtiRetentionPastExpiryMs(config.values.DEVICE_JWT_CLOCK_SKEW_SECONDS);
    this.purgeJob = new RecurringJob(scheduler, {
      name: 'replay-guard.purge-expired',
      everyMs: PURGE_EVERY_MS,
      run: () => this.purgeExpired(),
      logger: new Logger('ReplayGuard'),
      what: 'purging expired device_jti claims',
    });
  }

  /**
   * true when this is the first use of the jti. With `countFor` (a device route's request and its
   * caller) and Redis, the device rate limits are counted in the same round trip as the claim
   * (DeviceRateLimitGuard.claimJtiAndCount), which then throws RateLimitedError over a limit.
   */
  async claim(
    deviceId: string,
    jti: string,
    expiresAt: Date,
    countFor?: { req: { body?: unknown; ip?: string }; caller: { deviceId: string; terminalNumbers: readonly string[] } },
  ): Promise<boolean> {
    if (!this.redis) {
      return this.claims.submit({ deviceId, jti, expiresAt }).catch((err: unknown) => {
        throw new DependencyUnavailableError('Replay protection is unavailable; retry later.', 2, { cause: err });
      });
    }
    // Kept past expiry as long as the token is still accepted (clock skew), and a margin.
    const keepMs = Math.max(1_000, expiresAt.getTime() - Date.now() + this.retentionMs);
    const key = `jti:${deviceId}:${jti}`;
    try {
      if (countFor) {
        const first = await this.limits.claimJtiAndCount(countFor.req, countFor.caller, { key, keepMs });
        if (first !== null) return first;
      }
      const set = await this.redis.set(key, '1', 'PX', keepMs, 'NX');
      return set === 'OK';
    } catch (err) {
      if (err instanceof BrokerError) throw err;
      throw new DependencyUnavailableError('Replay protection is unavailable; retry later.', 2, { cause: err });
    }
  }

  /** `expires_at` is the token's own `exp`; the row stays as long as the token could still be accepted. */
  async purgeExpired(): Promise<number> {
    const keepSeconds = this.retentionMs / 1_000;
    return this.prisma.$executeRaw`DELETE FROM device_jti WHERE expires_at < now() - make_interval(secs => ${keepSeconds}::double precision)`;
  }

  onModuleInit(): void {
    if (!this.redis) this.purgeJob.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.purgeJob.stop();
  }

  private async insert(batch: Claim[]): Promise<boolean[]> {
    // Plain SQL: this runs on every request (see HotPathSql).
    const inserted = await this.db.sql.query<{ device_id: string; jti: string }>(
      CLAIM,
      [batch.map((c) => c.deviceId), batch.map((c) => c.jti), batch.map((c) => c.expiresAt)],
      'device_jti_claim_batch',
    );
    const fresh = new Set(inserted.map((r) => `${r.device_id}\u0000${r.jti}`));
    // A jti repeated inside one batch: only its first occurrence is fresh.
    const seen = new Set<string>();
    return batch.map((c) => {
      const key = `${c.deviceId}\u0000${c.jti}`;
      const first = fresh.has(key) && !seen.has(key);
      seen.add(key);
      return first;
    });
  }
}
