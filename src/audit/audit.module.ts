import { Global, Module } from '@nestjs/common';
import { AuditTransactions } from './audit-transactions';
import { AuditTrail } from './audit-trail';
import { SessionFingerprinter } from './session-fingerprint';

@Global()
@Module({ providers: [AuditTrail, AuditTransactions, SessionFingerprinter], exports: [AuditTrail, AuditTransactions, SessionFingerprinter] })
export class AuditModule {}
