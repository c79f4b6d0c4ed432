import { Body, Controller, Header, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { CurrentDevice } from '../devices/current-device.decorator';
import type { DevicePrincipal } from '../devices/device';
import { DeviceAuthGuard } from '../devices/device-auth.guard';
import { auditOrigin } from '../http/audit-origin';
import { ZodBodyPipe } from '../http/zod-body.pipe';
import { DeviceRateLimitGuard } from '../rate-limits/rate-limit-guards';
import { IssuedSession, SessionIssuer } from './session-issuer';
import { SessionRequest, sessionRequestSchema } from './session-request.schema';

@Controller('v1/sessions')
export class SessionsController {
  constructor(private readonly issuer: SessionIssuer) {}

  @Post()
  @HttpCode(201)
  @Header('cache-control', 'no-store')
  @UseGuards(DeviceAuthGuard, DeviceRateLimitGuard)
  create(
    @CurrentDevice() device: DevicePrincipal,
    @Body(new ZodBodyPipe(sessionRequestSchema)) body: SessionRequest,
    @Req() req: FastifyRequest,
  ): Promise<IssuedSession> {
    return this.issuer.issue(device, body, auditOrigin(req));
  }
}
