import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { DeviceEnrollment, EnrollDevice, EnrolledDevice, enrollDeviceSchema } from '../devices/device-enrollment';
import { auditOrigin } from '../http/audit-origin';
import { ApiProblems, ApiZodBody } from '../http/openapi';
import { ZodBodyPipe } from '../http/zod-body.pipe';
import { BootstrapGuard } from './bootstrap.guard';

/** Embedded/development only (BOOTSTRAP_ENROLLMENT=true): a device enrolls itself with the bootstrap token. */
@ApiTags('development')
@ApiBearerAuth()
@Controller('v1/bootstrap')
export class BootstrapController {
  constructor(private readonly enrollment: DeviceEnrollment) {}

  @Post('devices')
  @HttpCode(201)
  @UseGuards(BootstrapGuard)
  @ApiOperation({ summary: 'Development only: a device enrolls itself with the local bootstrap token' })
  @ApiZodBody(enrollDeviceSchema)
  @ApiProblems(400, 401, 409)
  enroll(@Body(new ZodBodyPipe(enrollDeviceSchema)) body: EnrollDevice, @Req() req: FastifyRequest): Promise<EnrolledDevice> {
    return this.enrollment.enroll(body, { type: 'bootstrap' }, auditOrigin(req));
  }
}
