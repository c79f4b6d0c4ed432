import { Global, Module } from '@nestjs/common';
import { AuditPartitions } from './audit-partitions';
import { AuditTransactions } from './audit-transactions';
import { AuditTrail } from './audit-trail';
import { SessionFingerprinter } from './session-fingerprint';

@Global()
@Module({
  providers: [AuditTrail, AuditTransactions, SessionFingerprinter, AuditPartitions],
  exports: [AuditTrail, AuditTransactions, SessionFingerprinter, AuditPartitions],
})
export class AuditModule {}
