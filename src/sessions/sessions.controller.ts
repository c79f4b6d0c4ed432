import { Body, Controller, Header, Headers, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CurrentDevice } from '../devices/current-device.decorator';
import type { DevicePrincipal } from '../devices/device';
import { DeviceAuthGuard } from '../devices/device-auth.guard';
import { auditOrigin } from '../http/audit-origin';
import { ZodBodyPipe } from '../http/zod-body.pipe';
import { DeviceRateLimitGuard } from '../rate-limits/rate-limit-guards';
import { IdempotentIssuance } from '../idempotency/idempotent-issuance';
import { ValidationError } from '../common/errors';
import { IssuedSession, SessionIssuer } from './session-issuer';
import { SessionRequest, sessionRequestSchema } from './session-request.schema';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

@Controller('v1/sessions')
export class SessionsController {
  constructor(
    private readonly issuer: SessionIssuer,
    private readonly idempotency: IdempotentIssuance,
  ) {}

  @Post()
  @HttpCode(201)
  @Header('cache-control', 'no-store')
  @UseGuards(DeviceAuthGuard, DeviceRateLimitGuard)
  create(
    @CurrentDevice() device: DevicePrincipal,
    @Body(new ZodBodyPipe(sessionRequestSchema)) body: SessionRequest,
    @Req() req: FastifyRequest,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
  ): Promise<IssuedSession> {
    // For the request's log line (src/http/logging.ts).
    (req.raw as typeof req.raw & { terminalNumber?: string }).terminalNumber =
      body.terminalNumber ?? (device.terminalNumbers.length === 1 ? device.terminalNumbers[0] : undefined);
    const issue = () => this.issuer.issue(device, body, auditOrigin(req));
    if (idempotencyKey === undefined) return issue();
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) throw new ValidationError('Idempotency-Key must be 1 to 255 visible ASCII characters.');
    return this.idempotency.run(device.deviceId, idempotencyKey, body, issue);
  }
}
