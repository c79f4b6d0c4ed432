import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { PrismaService } from '../database/prisma.service';
import { SecretsProvider } from '../secrets/secrets-provider';

/** Liveness says the process runs; readiness says which dependency is down, if any. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly prisma: PrismaService,
    private readonly secrets: SecretsProvider,
  ) {}

  @Get('live')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<{ status: string; checks: Record<string, string> }> {
    const checks: Record<string, string> = {};
    await Promise.all([
      this.prisma.$queryRaw`SELECT 1`.then(
        () => (checks.database = 'up'),
        () => (checks.database = 'down'),
      ),
      this.secrets.check().then(
        () => (checks.secrets = 'up'),
        () => (checks.secrets = 'down'),
      ),
    ]);
    const ok = Object.values(checks).every((v) => v === 'up');
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', checks };
  }
}
