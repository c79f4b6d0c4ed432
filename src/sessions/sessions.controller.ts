import { Controller, Delete, HttpCode, Param, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiNoContentResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CurrentDevice } from '../devices/current-device.decorator';
import type { DevicePrincipal } from '../devices/device';
import { DeviceAuthGuard } from '../devices/device-auth.guard';
import { auditOrigin } from '../http/audit-origin';
import { ApiProblems } from '../http/openapi';
import { DeviceRateLimitGuard } from '../rate-limits/rate-limit-guards';
import { ValidationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { answeredByDeadline, deadlineOf, lateResult } from './request-deadline';
import { SessionCloser } from './session-closer';
import { SessionRequestBody } from './session-request.schema';
import { IssuedSessionDto } from './session.openapi';

/** Session ids of every provider are visible ASCII; anything else cannot be one of ours. */
const SESSION_ID = /^[\x21-\x7e]{1,4096}$/;

/**
 * DELETE /v1/sessions/{sessionId}. POST /v1/sessions, on every transaction's path, is a Fastify
 * route of its own (SessionRoute); its body and answer schemas are declared here so that the
 * document carries them, generated from the same DTOs.
 */
@ApiTags('device')
@ApiBearerAuth('device-jwt')
@ApiExtraModels(SessionRequestBody, IssuedSessionDto)
@Controller('v1/sessions')
export class SessionsController {
  constructor(
    private readonly closer: SessionCloser,
    private readonly config: AppConfig,
  ) {}

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
