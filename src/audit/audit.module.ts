import { Global, Module } from '@nestjs/common';
import { AuditTrail } from './audit-trail';
import { SessionFingerprinter } from './session-fingerprint';

@Global()
@Module({ providers: [AuditTrail, SessionFingerprinter], exports: [AuditTrail, SessionFingerprinter] })
export class AuditModule {}
