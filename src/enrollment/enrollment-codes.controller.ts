import { Body, Controller, Delete, Get, Header, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ZodInputPipe } from '../admin/zod-params.pipe';
import { auditOrigin } from '../http/audit-origin';
import { ApiProblems, ApiZodBody, ApiZodParam, ApiZodQuery, ApiZodResponse } from '../http/openapi';
import { ZodBodyPipe } from '../http/zod-body.pipe';
import { CurrentOperator } from '../operators/current-operator.decorator';
import type { OperatorPrincipal } from '../operators/operator';
import { OperatorAuthGuard } from '../operators/operator-auth.guard';
import { RequireRoles } from '../operators/require-roles.decorator';
import {
  type CreateEnrollmentCode,
  createEnrollmentCodeSchema,
  type CreatedEnrollmentCode,
  createdEnrollmentCodeSchema,
  enrollmentCodeIdParam,
  enrollmentCodePageSchema,
  type EnrollmentCodeRecord,
  enrollmentCodeRecordSchema,
  type ListEnrollmentCodes,
  listEnrollmentCodesSchema,
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
  @ApiZodBody(createEnrollmentCodeSchema)
  @ApiZodResponse(201, createdEnrollmentCodeSchema, 'The code, its QR URL and its record')
  @ApiProblems(400)
  create(
    @Body(new ZodBodyPipe(createEnrollmentCodeSchema)) body: CreateEnrollmentCode,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<CreatedEnrollmentCode> {
    return this.enrollment.create(body, operator, auditOrigin(req), `${req.protocol}://${req.host}`);
  }

  @Get()
  @RequireRoles('admin', 'auditor')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'List enrollment codes (never the codes themselves), newest first' })
  @ApiZodQuery(listEnrollmentCodesSchema)
  @ApiZodResponse(200, enrollmentCodePageSchema, 'One page of enrollment codes')
  @ApiProblems(400)
  list(@Query(new ZodInputPipe(listEnrollmentCodesSchema, 'query')) query: ListEnrollmentCodes) {
    return this.enrollment.list(query);
  }

  @Delete(`:${ID}`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke an enrollment code: no device can enroll with it any more' })
  @ApiZodParam(ID, enrollmentCodeIdParam)
  @ApiZodResponse(200, enrollmentCodeRecordSchema, 'The code, revoked')
  @ApiProblems(400, 404)
  revoke(
    @Param(ID, new ZodInputPipe(enrollmentCodeIdParam, 'path')) id: string,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<EnrollmentCodeRecord> {
    return this.enrollment.revoke(id, operator, auditOrigin(req));
  }
}
