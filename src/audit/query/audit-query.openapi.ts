import { applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';

/** The OpenAPI description of the filters every auditor query shares (audit-query.schema.ts). */
export function ApiAuditFilters(): MethodDecorator {
  return applyDecorators(
    ApiQuery({ name: 'from', required: false, description: 'ISO-8601 instant with zone; occurred_at >= from' }),
    ApiQuery({ name: 'to', required: false, description: 'ISO-8601 instant with zone; occurred_at < to' }),
    ApiQuery({ name: 'deviceId', required: false, description: 'Events whose actor is this device' }),
    ApiQuery({ name: 'terminalNumber', required: false, description: '10 digits' }),
    ApiQuery({ name: 'action', required: false, description: 'e.g. session.issued, auth.refused' }),
    ApiQuery({ name: 'outcome', required: false, enum: ['pending', 'issued', 'denied', 'failed', 'success'] }),
    ApiQuery({ name: 'gatewayResult', required: false, description: 'Gateway result code, e.g. 457' }),
    ApiQuery({ name: 'requestId', required: false }),
  );
}
