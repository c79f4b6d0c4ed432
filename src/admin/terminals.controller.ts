import { Body, Controller, Get, Header, HttpCode, Param, Patch, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { auditOrigin } from '../http/audit-origin';
import { ZodResponse } from 'nestjs-zod';
import { ApiProblems } from '../http/openapi';
import { CurrentOperator } from '../operators/current-operator.decorator';
import type { OperatorPrincipal } from '../operators/operator';
import { OperatorAuthGuard } from '../operators/operator-auth.guard';
import { RequireRoles } from '../operators/require-roles.decorator';
import type { TerminalRecord } from '../terminals/terminal';
import { TerminalPageDto, TerminalRecordDto } from './admin.responses';
import { CreateTerminalBody, ListTerminalsQuery, TerminalNumberParams, UpdateTerminalBody } from './admin.schemas';
import type { Page } from './page';
import { TerminalsService } from './terminals.service';

const NUMBER = 'terminalNumber';

/** Terminals: admins change them; auditors may read them (read-only review of the configuration). */
@ApiTags('admin: terminals')
@ApiBearerAuth()
@ApiProblems(401, 403, 429, 503)
@Controller('v1/admin/terminals')
@UseGuards(OperatorAuthGuard)
@RequireRoles('admin')
export class TerminalsController {
  constructor(private readonly terminals: TerminalsService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Create a terminal (its credentials stay in the secret store: only their path is given)',
    description: "providerConfig: the provider's non-secret fields, checked by its schema; required by providers that have fields (all but hyp).",
  })
  @ZodResponse({ status: 201, type: TerminalRecordDto, description: 'The terminal' })
  @ApiProblems(400, 409, 413, 415)
  create(@Body() body: CreateTerminalBody, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<TerminalRecord> {
    return this.terminals.create(body, operator, auditOrigin(req));
  }

  @Get()
  @RequireRoles('admin', 'auditor')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'List terminals by number, filtered, one page at a time' })
  @ZodResponse({ status: 200, type: TerminalPageDto, description: 'One page of terminals' })
  @ApiProblems(400)
  list(@Query() query: ListTerminalsQuery): Promise<Page<TerminalRecord>> {
    return this.terminals.list(query);
  }

  @Get(`:${NUMBER}`)
  @RequireRoles('admin', 'auditor')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'One terminal' })
  @ZodResponse({ status: 200, type: TerminalRecordDto, description: 'The terminal' })
  @ApiProblems(400, 404)
  get(@Param() { terminalNumber }: TerminalNumberParams): Promise<TerminalRecord> {
    return this.terminals.get(terminalNumber);
  }

  @Patch(`:${NUMBER}`)
  @ApiOperation({
    summary: 'Change a terminal (the number cannot change)',
    description: 'providerConfig replaces the whole configuration; a change of provider needs one valid for the new provider (or a stored one it accepts).',
  })
  @ZodResponse({ status: 200, type: TerminalRecordDto, description: 'The terminal after the change' })
  @ApiProblems(400, 404, 413, 415)
  update(
    @Param() { terminalNumber }: TerminalNumberParams,
    @Body() body: UpdateTerminalBody,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<TerminalRecord> {
    return this.terminals.update(terminalNumber, body, operator, auditOrigin(req));
  }

  @Post(`:${NUMBER}/disable`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Disable a terminal: no session is issued for it until enabled again' })
  @ZodResponse({ status: 200, type: TerminalRecordDto, description: 'The terminal, disabled' })
  @ApiProblems(400, 404)
  disable(
    @Param() { terminalNumber }: TerminalNumberParams,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<TerminalRecord> {
    return this.terminals.setEnabled(terminalNumber, false, operator, auditOrigin(req));
  }

  @Post(`:${NUMBER}/enable`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Enable a terminal again' })
  @ZodResponse({ status: 200, type: TerminalRecordDto, description: 'The terminal, enabled' })
  @ApiProblems(400, 404)
  enable(
    @Param() { terminalNumber }: TerminalNumberParams,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<TerminalRecord> {
    return this.terminals.setEnabled(terminalNumber, true, operator, auditOrigin(req));
  }
}
