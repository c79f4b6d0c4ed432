import { Body, Controller, Get, Header, HttpCode, Param, Patch, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ZodResponse } from 'nestjs-zod';
import type { DeviceRecord } from '../devices/device.repository';
import { auditOrigin } from '../http/audit-origin';
import { ApiProblems } from '../http/openapi';
import { CurrentOperator } from '../operators/current-operator.decorator';
import type { OperatorPrincipal } from '../operators/operator';
import { OperatorAuthGuard } from '../operators/operator-auth.guard';
import { RequireRoles } from '../operators/require-roles.decorator';
import { DevicePageDto, DeviceRecordDto, RotatedKeyDto } from './admin.responses';
import { DeviceIdParams, EnrollDeviceBody, ListDevicesQuery, RotateKeyBody, UpdateDeviceBody } from './admin.schemas';
import { DevicesService, type RotatedKey } from './devices.service';
import type { KeysetPage } from './page';

const ID = 'deviceId';

/** Devices: admins enroll and manage them; auditors may read them. Changes apply on the next request. */
@ApiTags('admin: devices')
@ApiBearerAuth()
@ApiProblems(401, 403, 429, 503)
@Controller('v1/admin/devices')
@UseGuards(OperatorAuthGuard)
@RequireRoles('admin')
export class DevicesController {
  constructor(private readonly devices: DevicesService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Enroll a device with its public key (ES256 or EdDSA), bound to terminals' })
  @ZodResponse({ status: 201, type: DeviceRecordDto, description: 'The device' })
  @ApiProblems(400, 409, 413, 415)
  enroll(@Body() body: EnrollDeviceBody, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<DeviceRecord> {
    return this.devices.enroll(body, operator, auditOrigin(req));
  }

  @Get()
  @RequireRoles('admin', 'auditor')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'List devices, newest first (enrolled at, then id), filtered, one page at a time: keyset (cursor) or offset paging',
  })
  @ZodResponse({ status: 200, type: DevicePageDto, description: 'One page of devices' })
  @ApiProblems(400)
  list(@Query() query: ListDevicesQuery): Promise<KeysetPage<DeviceRecord>> {
    return this.devices.list(query);
  }

  @Get(`:${ID}`)
  @RequireRoles('admin', 'auditor')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'One device, with its keys and terminals' })
  @ZodResponse({ status: 200, type: DeviceRecordDto, description: 'The device' })
  @ApiProblems(400, 404)
  get(@Param() { deviceId }: DeviceIdParams): Promise<DeviceRecord> {
    return this.devices.get(deviceId);
  }

  @Patch(`:${ID}`)
  @ApiOperation({ summary: 'Rename, set the scope policy (null: the terminal default) or replace the terminal bindings' })
  @ZodResponse({ status: 200, type: DeviceRecordDto, description: 'The device after the change' })
  @ApiProblems(400, 404, 409, 413, 415)
  update(
    @Param() { deviceId }: DeviceIdParams,
    @Body() body: UpdateDeviceBody,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<DeviceRecord> {
    return this.devices.update(deviceId, body, operator, auditOrigin(req));
  }

  @Post(`:${ID}/disable`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Disable a device: its tokens are refused until it is enabled again' })
  @ZodResponse({ status: 200, type: DeviceRecordDto, description: 'The device, disabled' })
  @ApiProblems(400, 404, 409)
  disable(@Param() { deviceId }: DeviceIdParams, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<DeviceRecord> {
    return this.devices.changeStatus(deviceId, 'disable', operator, auditOrigin(req));
  }

  @Post(`:${ID}/enable`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Enable a disabled device again (never a revoked one: 409)' })
  @ZodResponse({ status: 200, type: DeviceRecordDto, description: 'The device, active' })
  @ApiProblems(400, 404, 409)
  enable(@Param() { deviceId }: DeviceIdParams, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<DeviceRecord> {
    return this.devices.changeStatus(deviceId, 'enable', operator, auditOrigin(req));
  }

  @Post(`:${ID}/revoke`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a device, permanently' })
  @ZodResponse({ status: 200, type: DeviceRecordDto, description: 'The device, revoked' })
  @ApiProblems(400, 404)
  revoke(@Param() { deviceId }: DeviceIdParams, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<DeviceRecord> {
    return this.devices.changeStatus(deviceId, 'revoke', operator, auditOrigin(req));
  }

  @Post(`:${ID}/keys`)
  @HttpCode(201)
  @ApiOperation({ summary: 'Rotate the device key: the new key is used at once, the previous ones keep verifying for the grace period' })
  @ZodResponse({ status: 201, type: RotatedKeyDto, description: 'The new key and when the previous ones stop verifying' })
  @ApiProblems(400, 404, 409, 413, 415)
  rotateKey(
    @Param() { deviceId }: DeviceIdParams,
    @Body() body: RotateKeyBody,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<RotatedKey> {
    return this.devices.rotateKey(deviceId, body, operator, auditOrigin(req));
  }
}
