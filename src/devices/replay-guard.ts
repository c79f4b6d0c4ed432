import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { GroupCommit } from '../common/group-commit';
import { PrismaService } from '../database/prisma.service';

interface Claim {
  deviceId: string;
  jti: string;
  expiresAt: Date;
}

/**
 * Refuses a device JWT whose `jti` was already used within its lifetime. Backed by Postgres so a
 * token used on one instance is refused on every other. Concurrent claims are group-committed:
 * one INSERT ... ON CONFLICT DO NOTHING RETURNING tells which of them were first.
 */
@Injectable()
export class ReplayGuard implements OnModuleInit, OnModuleDestroy {
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly claims = new GroupCommit<Claim, boolean>((batch) => this.insert(batch), 1_000);

  constructor(private readonly prisma: PrismaService) {}

  /** true when this is the first use of the jti. */
  claim(deviceId: string, jti: string, expiresAt: Date): Promise<boolean> {
    return this.claims.submit({ deviceId, jti, expiresAt });
  }

  async purgeExpired(): Promise<number> {
    return this.prisma.$executeRaw`DELETE FROM device_jti WHERE expires_at < now() - interval '1 minute'`;
  }

  onModuleInit(): void {
    this.purgeTimer = setInterval(() => void this.purgeExpired().catch(() => undefined), 60_000);
    this.purgeTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.purgeTimer);
  }

  private async insert(batch: Claim[]): Promise<boolean[]> {
    const inserted = await this.prisma.$queryRaw<Array<{ device_id: string; jti: string }>>`
      INSERT INTO device_jti (device_id, jti, expires_at)
      SELECT * FROM unnest(${batch.map((c) => c.deviceId)}::uuid[], ${batch.map((c) => c.jti)}::varchar[], ${batch.map((c) => c.expiresAt)}::timestamptz[])
      ON CONFLICT DO NOTHING
      RETURNING device_id::text, jti`;
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
