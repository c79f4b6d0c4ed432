import { Module } from '@nestjs/common';
import { AuditSealModule } from '../seal/audit-seal.module';
import { OperatorsModule } from '../../operators/operators.module';
import { AuditEventRepository } from './audit-event.repository';
import { AuditQueryController } from './audit-query.controller';
import { AuditQueryService } from './audit-query.service';

/** The auditor API: /v1/audit/events, export, stats, session lookup, verify. */
@Module({
  imports: [OperatorsModule, AuditSealModule],
  controllers: [AuditQueryController],
  providers: [AuditEventRepository, AuditQueryService],
})
export class AuditQueryModule {}
