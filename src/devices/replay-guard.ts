import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DependencyUnavailableError } from '../common/errors';
import { GroupCommit } from '../common/group-commit';
import { DatabaseConnection } from '../database/database-connection';
import { PrismaService } from '../database/prisma.service';
import { REDIS, type RedisClient } from '../redis/redis.module';

const CLAIM = `INSERT INTO device_jti (device_id, jti, expires_at)
  SELECT * FROM unnest($1::uuid[], $2::varchar[], $3::timestamptz[])
  ON CONFLICT DO NOTHING
  RETURNING device_id::text, jti`;

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
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly claims = new GroupCommit<Claim, boolean>((batch) => this.insert(batch), 1_000);

  constructor(
    private readonly prisma: PrismaService,
    private readonly db: DatabaseConnection,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  /** true when this is the first use of the jti. */
  async claim(deviceId: string, jti: string, expiresAt: Date): Promise<boolean> {
    if (!this.redis) {
      return this.claims.submit({ deviceId, jti, expiresAt }).catch((err: unknown) => {
        throw new DependencyUnavailableError('Replay protection is unavailable; retry later.', 2, { cause: err });
      });
    }
    // Kept a minute past expiry, as tokens are accepted with clock skew.
    const keepMs = Math.max(1_000, expiresAt.getTime() - Date.now() + 60_000);
    try {
      const set = await this.redis.set(`jti:${deviceId}:${jti}`, '1', 'PX', keepMs, 'NX');
      return set === 'OK';
    } catch (err) {
      throw new DependencyUnavailableError('Replay protection is unavailable; retry later.', 2, { cause: err });
    }
  }

  async purgeExpired(): Promise<number> {
    return this.prisma.$executeRaw`DELETE FROM device_jti WHERE expires_at < now() - interval '1 minute'`;
  }

  onModuleInit(): void {
    if (this.redis) return;
    this.purgeTimer = setInterval(() => void this.purgeExpired().catch(() => undefined), 60_000);
    this.purgeTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.purgeTimer);
  }

  private async insert(batch: Claim[]): Promise<boolean[]> {
    // Plain SQL: this runs on every request (see HotPathSql).
    const inserted = await this.db.sql.query<{ device_id: string; jti: string }>(CLAIM, [
      batch.map((c) => c.deviceId),
      batch.map((c) => c.jti),
      batch.map((c) => c.expiresAt),
    ], 'device_jti_claim_batch');
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
