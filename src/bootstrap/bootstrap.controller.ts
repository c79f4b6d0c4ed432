import { Body, Controller, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { EnrollDeviceBody } from '../admin/admin.schemas';
import { DeviceEnrollment, EnrolledDevice } from '../devices/device-enrollment';
import { enrolledDeviceSchema } from '../enrollment/enrollment.schemas';
import { auditOrigin } from '../http/audit-origin';
import { ApiProblems } from '../http/openapi';
import { BOOTSTRAP_SCHEME } from '../http/swagger';
import { BootstrapGuard } from './bootstrap.guard';

/** What the bootstrap enrollment answers: the device as a code redemption describes it, without the audience. */
class BootstrapEnrolledDevice extends createZodDto(enrolledDeviceSchema.omit({ audience: true }), { codec: true }) {}

/** Embedded/development only (BOOTSTRAP_ENROLLMENT=true): a device enrolls itself with the bootstrap token. */
@ApiTags('development')
@ApiBearerAuth(BOOTSTRAP_SCHEME)
@Controller('v1/bootstrap')
export class BootstrapController {
  constructor(private readonly enrollment: DeviceEnrollment) {}

  @Post('devices')
  @HttpCode(201)
  @UseGuards(BootstrapGuard)
  @ApiOperation({ summary: 'Development only: a device enrolls itself with the local bootstrap token' })
  @ZodResponse({ status: 201, type: BootstrapEnrolledDevice, description: 'The device, bound to its terminals' })
  @ApiProblems(400, 401, 409, 413, 415, 503)
  enroll(@Body() body: EnrollDeviceBody, @Req() req: FastifyRequest): Promise<EnrolledDevice> {
    return this.enrollment.enroll(body, { type: 'bootstrap' }, auditOrigin(req));
  }
}
