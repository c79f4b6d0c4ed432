import { Body, Controller, Header, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { FastifyRequest } from 'fastify';
import { auditOrigin } from '../http/audit-origin';
import { ApiProblems } from '../http/openapi';
import { EnrollmentRateLimitGuard } from './enrollment-rate-limit.guard';
import { EnrolledDeviceDto, RedeemEnrollmentCodeBody } from './enrollment.schemas';
import { EnrollmentService, type EnrolledByCode } from './enrollment.service';

/** A device enrolls itself with a one-time code: no operator token, the code is the credential. */
@ApiTags('enrollment')
@Controller('v1/enrollments')
export class EnrollmentsController {
  constructor(private readonly enrollment: EnrollmentService) {}

  @Post()
  @HttpCode(201)
  @Header('cache-control', 'no-store')
  @UseGuards(EnrollmentRateLimitGuard)
  @ApiOperation({ summary: 'Redeem an enrollment code with the device public key (ES256 P-256 or Ed25519, JWK or PEM)' })
  @ApiBody({ type: RedeemEnrollmentCodeBody })
  @ZodResponse({ status: 201, type: EnrolledDeviceDto, description: 'The device, bound to the code’s terminals' })
  @ApiProblems(400, 409, 413, 415, 429, 503)
  // The body is validated by the service, so that even a malformed attempt is audited.
  enroll(@Body() body: unknown, @Req() req: FastifyRequest): Promise<EnrolledByCode> {
    return this.enrollment.redeem(body, auditOrigin(req));
  }
}
