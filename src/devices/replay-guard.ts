import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';

/**
 * Refuses a device JWT whose `jti` was already used within its lifetime. Backed by Postgres so a
 * token used on one instance is refused on every other; rows are purged once the token expired.
 */
@Injectable()
export class ReplayGuard implements OnModuleInit, OnModuleDestroy {
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(private readonly prisma: PrismaService) {}

  /** true when this is the first use of the jti. */
  async claim(deviceId: string, jti: string, expiresAt: Date): Promise<boolean> {
    const inserted = await this.prisma.$executeRaw`
      INSERT INTO device_jti (device_id, jti, expires_at) VALUES (${deviceId}::uuid, ${jti}, ${expiresAt})
      ON CONFLICT DO NOTHING`;
    return inserted === 1;
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
}
