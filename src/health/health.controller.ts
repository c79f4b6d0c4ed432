import { Controller, Get, HttpCode, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { ReadinessChecks } from './readiness-checks';

/** Liveness says the process runs; readiness says which dependency is down, if any (terminus). */
@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly checks: ReadinessChecks,
  ) {}

  @Get('live')
  @HttpCode(200)
  @ApiOperation({ summary: 'Liveness: the process runs' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: database, secret store, Redis and gateway breakers, each named' })
  @ApiResponse({ status: 503, description: 'A dependency is down (named in the body)' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.checks.database(),
        () => this.checks.secretStore(),
        () => this.checks.redisStore(),
        () => this.checks.gateways(),
      ]);
    } catch (err) {
      // terminus reports "down" as a 503 exception; keep its per-dependency body.
      if (!(err instanceof ServiceUnavailableException)) throw err;
      void reply.status(503);
      return err.getResponse() as HealthCheckResult;
    }
  }
}
