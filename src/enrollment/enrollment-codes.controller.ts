import { Body, Controller, Delete, Get, Header, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { auditOrigin } from '../http/audit-origin';
import { ZodResponse } from 'nestjs-zod';
import { ApiProblems } from '../http/openapi';
import { CurrentOperator } from '../operators/current-operator.decorator';
import type { OperatorPrincipal } from '../operators/operator';
import { OperatorAuthGuard } from '../operators/operator-auth.guard';
import { RequireRoles } from '../operators/require-roles.decorator';
import {
  CreateEnrollmentCodeBody,
  type CreatedEnrollmentCode,
  CreatedEnrollmentCodeDto,
  EnrollmentCodeIdParams,
  EnrollmentCodePageDto,
  type EnrollmentCodeRecord,
  EnrollmentCodeRecordDto,
  ListEnrollmentCodesQuery,
} from './enrollment.schemas';
import { EnrollmentService } from './enrollment.service';

const ID = 'codeId';

/** Enrollment codes: admins create and revoke them; auditors may list them. The code itself is shown once. */
@ApiTags('admin: enrollment codes')
@ApiBearerAuth()
@ApiProblems(401, 403, 429, 503)
@Controller('v1/admin/enrollment-codes')
@UseGuards(OperatorAuthGuard)
@RequireRoles('admin')
export class EnrollmentCodesController {
  constructor(private readonly enrollment: EnrollmentService) {}

  @Post()
  @HttpCode(201)
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Create a one-time enrollment code for terminals and a policy; the code is shown in this answer only' })
  @ZodResponse({ status: 201, type: CreatedEnrollmentCodeDto, description: 'The code, its QR URL and its record' })
  @ApiProblems(400, 413, 415)
  create(@Body() body: CreateEnrollmentCodeBody, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<CreatedEnrollmentCode> {
    return this.enrollment.create(body, operator, auditOrigin(req), `${req.protocol}://${req.host}`);
  }

  @Get()
  @RequireRoles('admin', 'auditor')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'List enrollment codes (never the codes themselves), newest first' })
  @ZodResponse({ status: 200, type: EnrollmentCodePageDto, description: 'One page of enrollment codes' })
  @ApiProblems(400)
  list(@Query() query: ListEnrollmentCodesQuery) {
    return this.enrollment.list(query);
  }

  @Delete(`:${ID}`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an enrollment code: no device can enroll with it any more' })
  @ZodResponse({ status: 200, type: EnrollmentCodeRecordDto, description: 'The code, revoked' })
  @ApiProblems(400, 404)
  revoke(
    @Param() { codeId }: EnrollmentCodeIdParams,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<EnrollmentCodeRecord> {
    return this.enrollment.revoke(codeId, operator, auditOrigin(req));
  }
}
