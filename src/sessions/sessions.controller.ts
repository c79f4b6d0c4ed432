import { Body, Controller, Delete, Header, Headers, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiNoContentResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ZodResponse } from 'nestjs-zod';
import { CurrentDevice } from '../devices/current-device.decorator';
import type { DevicePrincipal } from '../devices/device';
import { DeviceAuthGuard } from '../devices/device-auth.guard';
import { auditOrigin } from '../http/audit-origin';
import { ApiProblems } from '../http/openapi';
import { DeviceRateLimitGuard } from '../rate-limits/rate-limit-guards';
import { IdempotentIssuance } from '../idempotency/idempotent-issuance';
import { DependencyUnavailableError, ValidationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { answeredByDeadline, deadlineOf } from './request-deadline';
import { SessionCloser } from './session-closer';
import { IssuedSession, SessionIssuer } from './session-issuer';
import { SessionRequestBody } from './session-request.schema';
import { IssuedSessionDto } from './session.openapi';
import { requestContext } from '../http/request-context';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** Session ids of every provider are visible ASCII; anything else cannot be one of ours. */
const SESSION_ID = /^[\x21-\x7e]{1,4096}$/;

@ApiTags('device')
@ApiBearerAuth('device-jwt')
@Controller('v1/sessions')
export class SessionsController {
  constructor(
    private readonly issuer: SessionIssuer,
    private readonly idempotency: IdempotentIssuance,
    private readonly closer: SessionCloser,
    private readonly config: AppConfig,
  ) {}

  @Post()
  @HttpCode(201)
  @Header('cache-control', 'no-store')
  @UseGuards(DeviceAuthGuard, DeviceRateLimitGuard)
  @ApiOperation({ summary: 'A scoped, short-lived gateway session for the calling device (device JWT only)' })
  @ZodResponse({ status: 201, type: IssuedSessionDto, description: 'The session (Cache-Control: no-store)' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Retry-safe key (1-255 visible ASCII): a retry gets the same session' })
  @ApiProblems(400, 401, 403, 409, 413, 415, 429, 502, 503, 504)
  async create(
    @CurrentDevice() device: DevicePrincipal,
    @Body() body: SessionRequestBody,
    @Req() req: FastifyRequest,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
  ): Promise<IssuedSession> {
    // For the request's log line (src/http/logging.ts).
    requestContext(req).terminalNumber = body.terminalNumber ?? (device.terminalNumbers.length === 1 ? device.terminalNumbers[0] : undefined);
    const deadlineAt = deadlineOf(req, this.config.values.REQUEST_DEADLINE_MS);
    const issue = () => this.issuer.issue(device, body, auditOrigin(req), idempotencyKey, deadlineAt);
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ValidationError('Idempotency-Key must be 1 to 255 visible ASCII characters.');
    }
    // A replayed response is checked against the device's current bindings and policy, and audited.
    const replay = (stored: IssuedSession) => this.issuer.replay(device, body, stored, auditOrigin(req));
    const session = await (idempotencyKey === undefined ? issue() : this.idempotency.run(device.deviceId, idempotencyKey, body, issue, deadlineAt, replay));
    if (answeredByDeadline(req)) {
      // The device got a 503, not this session: the trail must say so next to its session.issued.
      await this.issuer.withheld(device, session, auditOrigin(req)).catch(() => undefined);
      throw lateResult();
    }
    return session;
  }

  @Delete(':sessionId')
  @HttpCode(204)
  @UseGuards(DeviceAuthGuard, DeviceRateLimitGuard)
  @ApiOperation({ summary: 'Close an open-until-closed session (wallet) issued to the calling device; closing twice is not an error' })
  @ApiParam({
    name: 'sessionId',
    description: 'The sessionId POST /v1/sessions returned (never logged)',
    schema: { type: 'string', minLength: 1, maxLength: 4096 },
  })
  @ApiNoContentResponse({ description: 'Closed (or already closed)' })
  @ApiProblems(400, 401, 403, 404, 409, 429, 502, 503, 504)
  async close(@CurrentDevice() device: DevicePrincipal, @Param('sessionId') sessionId: string, @Req() req: FastifyRequest): Promise<void> {
    if (!SESSION_ID.test(sessionId)) throw new ValidationError('The sessionId is malformed.');
    await this.closer.close(device, sessionId, auditOrigin(req), deadlineOf(req, this.config.values.REQUEST_DEADLINE_MS));
    if (answeredByDeadline(req)) throw lateResult();
  }
}

/**
 * The request deadline already answered 503 (a dependency hung): the late result must not be sent
 * a second time. Thrown, it ends in the problem filter, which sends nothing on a sent reply.
 */
function lateResult(): DependencyUnavailableError {
  return new DependencyUnavailableError('The request deadline passed before the answer was ready.');
}
