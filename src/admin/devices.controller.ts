import { Body, Controller, Get, Header, HttpCode, Param, Patch, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { type EnrollDevice, enrollDeviceSchema } from '../devices/device-enrollment';
import type { DeviceRecord } from '../devices/device.repository';
import { auditOrigin } from '../http/audit-origin';
import { ApiProblems, ApiZodBody, ApiZodParam, ApiZodQuery, ApiZodResponse } from '../http/openapi';
import { ZodBodyPipe } from '../http/zod-body.pipe';
import { CurrentOperator } from '../operators/current-operator.decorator';
import type { OperatorPrincipal } from '../operators/operator';
import { OperatorAuthGuard } from '../operators/operator-auth.guard';
import { RequireRoles } from '../operators/require-roles.decorator';
import { devicePageSchema, deviceRecordSchema, rotatedKeySchema } from './admin.responses';
import {
  deviceIdParam,
  type ListDevices,
  listDevicesSchema,
  type RotateKey,
  rotateKeySchema,
  type UpdateDevice,
  updateDeviceSchema,
} from './admin.schemas';
import { DevicesService, type RotatedKey } from './devices.service';
import type { Page } from './page';
import { ZodInputPipe } from './zod-params.pipe';

const ID = 'deviceId';
const idPipe = new ZodInputPipe(deviceIdParam, 'path');

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
  @ApiZodBody(enrollDeviceSchema)
  @ApiZodResponse(201, deviceRecordSchema, 'The device')
  @ApiProblems(400, 409)
  enroll(
    @Body(new ZodBodyPipe(enrollDeviceSchema)) body: EnrollDevice,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<DeviceRecord> {
    return this.devices.enroll(body, operator, auditOrigin(req));
  }

  @Get()
  @RequireRoles('admin', 'auditor')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'List devices, newest first, filtered, one page at a time' })
  @ApiZodQuery(listDevicesSchema)
  @ApiZodResponse(200, devicePageSchema, 'One page of devices')
  @ApiProblems(400)
  list(@Query(new ZodInputPipe(listDevicesSchema, 'query')) query: ListDevices): Promise<Page<DeviceRecord>> {
    return this.devices.list(query);
  }

  @Get(`:${ID}`)
  @RequireRoles('admin', 'auditor')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'One device, with its keys and terminals' })
  @ApiZodParam(ID, deviceIdParam)
  @ApiZodResponse(200, deviceRecordSchema, 'The device')
  @ApiProblems(400, 404)
  get(@Param(ID, idPipe) deviceId: string): Promise<DeviceRecord> {
    return this.devices.get(deviceId);
  }

  @Patch(`:${ID}`)
  @ApiOperation({ summary: 'Rename, set the scope policy (null: the terminal default) or replace the terminal bindings' })
  @ApiZodParam(ID, deviceIdParam)
  @ApiZodBody(updateDeviceSchema)
  @ApiZodResponse(200, deviceRecordSchema, 'The device after the change')
  @ApiProblems(400, 404, 409)
  update(
    @Param(ID, idPipe) deviceId: string,
    @Body(new ZodBodyPipe(updateDeviceSchema)) body: UpdateDevice,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<DeviceRecord> {
    return this.devices.update(deviceId, body, operator, auditOrigin(req));
  }

  @Post(`:${ID}/disable`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Disable a device: its tokens are refused until it is enabled again' })
  @ApiZodParam(ID, deviceIdParam)
  @ApiZodResponse(200, deviceRecordSchema, 'The device, disabled')
  @ApiProblems(400, 404, 409)
  disable(@Param(ID, idPipe) deviceId: string, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<DeviceRecord> {
    return this.devices.changeStatus(deviceId, 'disable', operator, auditOrigin(req));
  }

  @Post(`:${ID}/enable`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Enable a disabled device again (never a revoked one: 409)' })
  @ApiZodParam(ID, deviceIdParam)
  @ApiZodResponse(200, deviceRecordSchema, 'The device, active')
  @ApiProblems(400, 404, 409)
  enable(@Param(ID, idPipe) deviceId: string, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<DeviceRecord> {
    return this.devices.changeStatus(deviceId, 'enable', operator, auditOrigin(req));
  }

  @Post(`:${ID}/revoke`)
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a device, permanently' })
  @ApiZodParam(ID, deviceIdParam)
  @ApiZodResponse(200, deviceRecordSchema, 'The device, revoked')
  @ApiProblems(400, 404)
  revoke(@Param(ID, idPipe) deviceId: string, @CurrentOperator() operator: OperatorPrincipal, @Req() req: FastifyRequest): Promise<DeviceRecord> {
    return this.devices.changeStatus(deviceId, 'revoke', operator, auditOrigin(req));
  }

  @Post(`:${ID}/keys`)
  @HttpCode(201)
  @ApiOperation({ summary: 'Rotate the device key: the new key is used at once, the previous ones keep verifying for the grace period' })
  @ApiZodParam(ID, deviceIdParam)
  @ApiZodBody(rotateKeySchema)
  @ApiZodResponse(201, rotatedKeySchema, 'The new key and when the previous ones stop verifying')
  @ApiProblems(400, 404, 409)
  rotateKey(
    @Param(ID, idPipe) deviceId: string,
    @Body(new ZodBodyPipe(rotateKeySchema)) body: RotateKey,
    @CurrentOperator() operator: OperatorPrincipal,
    @Req() req: FastifyRequest,
  ): Promise<RotatedKey> {
    return this.devices.rotateKey(deviceId, body, operator, auditOrigin(req));
  }
}
