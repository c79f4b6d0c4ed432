import { Body, Controller, Get, Header, HttpCode, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ZodResponse } from 'nestjs-zod';
import type { VerifyReport } from '../seal/audit-verifier';
import { auditOrigin } from '../../http/audit-origin';
import { ApiProblems } from '../../http/openapi';
import { CurrentOperator } from '../../operators/current-operator.decorator';
import type { OperatorPrincipal } from '../../operators/operator';
import { OperatorAuthGuard } from '../../operators/operator-auth.guard';
import { RequireRoles } from '../../operators/require-roles.decorator';
import {
  CSV_EVENTS,
  EventPageDto,
  NDJSON_EVENTS,
  NDJSON_SEALS,
  SessionLookupResultDto,
  SigningKeySetDto,
  StatsReportDto,
  VerifyReportDto,
} from './audit-query.openapi';
import { ExportQueryDto, ListQueryDto, SealsQueryDto, SessionLookupDto, StatsQueryDto, VerifyQueryDto } from './audit-query.schema';
import { AuditQueryService, type EventPage, type SessionLookupResult, type SigningKeySet, type StatsReport } from './audit-query.service';

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
@ApiProblems(401, 403, 429, 503)
export class AuditQueryController {
  constructor(private readonly service: AuditQueryService) {}

  @Get('events')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Audit events matching the filters, newest first, one keyset page at a time' })
  @ZodResponse({ status: 200, type: EventPageDto, description: 'One page of events and the cursor of the next' })
  @ApiProblems(400)
  list(@Query() query: ListQueryDto, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<EventPage> {
    return this.service.list(query, operator, auditOrigin(req));
  }

  @Get('events/export')
  @ApiOperation({ summary: 'Every event matching the filters as a CSV or NDJSON download, streamed newest first' })
  @ApiResponse({ status: 200, description: 'The download (format=csv or ndjson)', content: { 'text/csv': CSV_EVENTS, 'application/x-ndjson': NDJSON_EVENTS } })
  @ApiProblems(400)
  async export(
    @Query() query: ExportQueryDto,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await sendDownload(reply, await this.service.export(query, operator, auditOrigin(req)));
  }

  @Get('stats')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Event counts per hour or day by outcome and gateway result, overall or per terminal' })
  @ZodResponse({ status: 200, type: StatsReportDto, description: 'Counts per bucket' })
  @ApiProblems(400)
  stats(@Query() query: StatsQueryDto, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<StatsReport> {
    return this.service.stats(query, operator, auditOrigin(req));
  }

  @Post('sessions/lookup')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Find the issuance of a sessionId (sent in the body, never in the URL) by its keyed fingerprint' })
  @ZodResponse({ status: 200, type: SessionLookupResultDto, description: 'The issuance and the events of its request' })
  @ApiProblems(400, 404, 413, 415)
  lookup(@Body() body: SessionLookupDto, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<SessionLookupResult> {
    return this.service.lookupSession(body.sessionId, operator, auditOrigin(req));
  }

  @Get('signing-keys')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Every public key that ever signed seals, as a JWK Set: kid (RFC 7638 thumbprint), alg, use "sig", validFrom, validTo',
  })
  @ZodResponse({ status: 200, type: SigningKeySetDto, description: 'JWK Set (RFC 7517)' })
  signingKeys(@CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<SigningKeySet> {
    return this.service.signingKeys(operator, auditOrigin(req));
  }

  @Get('seals')
  @ApiOperation({
    summary: 'The seals over [from, to) as NDJSON, oldest first: seq, period, event count, events digest, previous hash, kid, signature',
  })
  @ApiResponse({ status: 200, description: 'The seals as NDJSON', content: { 'application/x-ndjson': NDJSON_SEALS } })
  @ApiProblems(400)
  async seals(
    @Query() query: SealsQueryDto,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await sendDownload(reply, await this.service.exportSeals(query, operator, auditOrigin(req)));
  }

  @Get('verify')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Recompute the seal chain over [from, to): ok, or the first missing or altered event or seal' })
  @ZodResponse({ status: 200, type: VerifyReportDto, description: 'ok, or the first problem' })
  @ApiProblems(400)
  verify(@Query() query: VerifyQueryDto, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<VerifyReport> {
    return this.service.verify(query, operator, auditOrigin(req));
  }
}

/** A streamed download. A failure mid-stream aborts the connection, so a cut-short file never looks complete. */
async function sendDownload(reply: FastifyReply, download: { contentType: string; filename: string; stream: unknown }): Promise<void> {
  await reply
    .header('content-type', download.contentType)
    .header('content-disposition', `attachment; filename="${download.filename}"`)
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(download.stream);
}
