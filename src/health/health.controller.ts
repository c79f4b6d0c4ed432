import { Controller, Get, HttpCode, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { z } from 'zod';
import { ReadinessChecks } from './readiness-checks';

class LiveDto extends createZodDto(z.object({ status: z.literal('ok') }), { codec: true }) {}

/** terminus's body: overall status and each dependency's, by name (the same shape on 200 and 503). */
const readinessSchema = z.object({
  status: z.enum(['ok', 'error', 'shutting_down']),
  info: z.record(z.string(), z.object({ status: z.string() }).loose()).optional(),
  error: z.record(z.string(), z.object({ status: z.string() }).loose()).optional(),
  details: z.record(z.string(), z.object({ status: z.string() }).loose()),
});
class ReadinessDto extends createZodDto(readinessSchema, { codec: true }) {}

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
  @ZodResponse({ status: 200, type: LiveDto, description: 'The process runs' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: database, secret store, Redis, gateway breakers and the audit read replica (with its replay lag), each named' })
  @ApiResponse({ status: 200, type: ReadinessDto, description: 'Every dependency is up' })
  @ApiResponse({ status: 503, type: ReadinessDto, description: 'A dependency is down (named in the body)' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.checks.database(),
        () => this.checks.secretStore(),
        () => this.checks.redisStore(),
        () => this.checks.gateways(),
        () => this.checks.auditReadReplica(),
      ]);
    } catch (err) {
      // terminus reports "down" as a 503 exception; keep its per-dependency body.
      if (!(err instanceof ServiceUnavailableException)) throw err;
      void reply.status(503);
      return err.getResponse() as HealthCheckResult;
    }
  }
}
