import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DeviceEnrollment, EnrollDevice, EnrolledDevice, enrollDeviceSchema } from '../devices/device-enrollment';
import { auditOrigin } from '../http/audit-origin';
import { ZodBodyPipe } from '../http/zod-body.pipe';
import { BootstrapGuard } from './bootstrap.guard';

/** Embedded/development only (BOOTSTRAP_ENROLLMENT=true): a device enrolls itself with the bootstrap token. */
@Controller('v1/bootstrap')
export class BootstrapController {
  constructor(private readonly enrollment: DeviceEnrollment) {}

  @Post('devices')
  @HttpCode(201)
  @UseGuards(BootstrapGuard)
  enroll(@Body(new ZodBodyPipe(enrollDeviceSchema)) body: EnrollDevice, @Req() req: FastifyRequest): Promise<EnrolledDevice> {
    return this.enrollment.enroll(body, { type: 'bootstrap' }, auditOrigin(req));
  }
}
