import { Body, Controller, Get, Header, HttpCode, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { VerifyReport } from '../seal/audit-verifier';
import { auditOrigin } from '../../http/audit-origin';
import { ApiProblems } from '../../http/openapi';
import { ZodBodyPipe } from '../../http/zod-body.pipe';
import { CurrentOperator } from '../../operators/current-operator.decorator';
import type { OperatorPrincipal } from '../../operators/operator';
import { OperatorAuthGuard } from '../../operators/operator-auth.guard';
import { RequireRoles } from '../../operators/require-roles.decorator';
import { ApiAuditFilters } from './audit-query.openapi';
import {
  type ExportQuery,
  exportQuerySchema,
  type ListQuery,
  listQuerySchema,
  type SealsQuery,
  sealsQuerySchema,
  type SessionLookup,
  sessionLookupSchema,
  type StatsQuery,
  statsQuerySchema,
  type VerifyQuery,
  verifyQuerySchema,
} from './audit-query.schema';
import { AuditQueryService, type EventPage, type SessionLookupResult, type SigningKeySet, type StatsReport } from './audit-query.service';
import { ZodQueryPipe } from './zod-query.pipe';

/**
 * The auditor's read-only window on the trail. Reading it is the auditor role's job alone: an
 * admin manages devices and terminals and has no job-related need to read the trail (PCI DSS
 * 10.3.1), so separation of duties holds; one person needing both holds both roles.
 */
@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit')
@UseGuards(OperatorAuthGuard)
@RequireRoles('auditor')
@ApiProblems(401, 403, 429)
export class AuditQueryController {
  constructor(private readonly service: AuditQueryService) {}

  @Get('events')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Audit events matching the filters, newest first, one keyset page at a time' })
  @ApiAuditFilters()
  @ApiQuery({ name: 'limit', required: false, description: 'Events per page, 1-500 (default 50)' })
  @ApiQuery({ name: 'cursor', required: false, description: 'nextCursor of the previous page (same filters)' })
  list(
    @Query(new ZodQueryPipe(listQuerySchema)) query: ListQuery,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<EventPage> {
    return this.service.list(query, operator, auditOrigin(req));
  }

  @Get('events/export')
  @ApiOperation({ summary: 'Every event matching the filters as a CSV or NDJSON download, streamed newest first' })
  @ApiAuditFilters()
  @ApiQuery({ name: 'format', required: true, enum: ['csv', 'ndjson'] })
  @ApiProduces('text/csv', 'application/x-ndjson')
  async export(
    @Query(new ZodQueryPipe(exportQuerySchema)) query: ExportQuery,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const download = await this.service.export(query, operator, auditOrigin(req));
    // A failure mid-stream aborts the connection, so a cut-short file never looks complete.
    await reply
      .header('content-type', download.contentType)
      .header('content-disposition', `attachment; filename="${download.filename}"`)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .send(download.stream);
  }

  @Get('stats')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Event counts per hour or day by outcome and gateway result, overall or per terminal' })
  @ApiAuditFilters()
  @ApiQuery({ name: 'bucket', required: false, enum: ['hour', 'day'], description: 'UTC hours (default; at most 31 days) or days (at most 366)' })
  @ApiQuery({ name: 'groupBy', required: false, enum: ['overall', 'terminal'] })
  stats(
    @Query(new ZodQueryPipe(statsQuerySchema)) query: StatsQuery,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<StatsReport> {
    return this.service.stats(query, operator, auditOrigin(req));
  }

  @Post('sessions/lookup')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Find the issuance of a sessionId (sent in the body, never in the URL) by its keyed fingerprint' })
  @ApiBody({ schema: { type: 'object', required: ['sessionId'], properties: { sessionId: { type: 'string' } }, additionalProperties: false } })
  lookup(
    @Body(new ZodBodyPipe(sessionLookupSchema)) body: SessionLookup,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<SessionLookupResult> {
    return this.service.lookupSession(body.sessionId, operator, auditOrigin(req));
  }

  @Get('signing-keys')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Every public key that ever signed seals, as a JWK Set: kid (RFC 7638 thumbprint), alg, use "sig", validFrom, validTo',
  })
  signingKeys(@CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<SigningKeySet> {
    return this.service.signingKeys(operator, auditOrigin(req));
  }

  @Get('seals')
  @ApiOperation({
    summary: 'The seals over [from, to) as NDJSON, oldest first: seq, period, event count, events digest, previous hash, kid, signature',
  })
  @ApiQuery({ name: 'from', required: false, description: 'ISO-8601 instant; seals whose events reach it or later' })
  @ApiQuery({ name: 'to', required: false, description: 'ISO-8601 instant; seals whose events start before it' })
  @ApiProduces('application/x-ndjson')
  @ApiProblems(400)
  async seals(
    @Query(new ZodQueryPipe(sealsQuerySchema)) query: SealsQuery,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const download = await this.service.exportSeals(query, operator, auditOrigin(req));
    await reply
      .header('content-type', download.contentType)
      .header('content-disposition', `attachment; filename="${download.filename}"`)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .send(download.stream);
  }

  @Get('verify')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Recompute the seal chain over [from, to): ok, or the first missing or altered event or seal' })
  @ApiQuery({ name: 'from', required: false, description: 'ISO-8601 instant; seals whose events reach it or later' })
  @ApiQuery({ name: 'to', required: false, description: 'ISO-8601 instant; seals whose events start before it' })
  verify(
    @Query(new ZodQueryPipe(verifyQuerySchema)) query: VerifyQuery,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<VerifyReport> {
    return this.service.verify(query, operator, auditOrigin(req));
  }
}
