import { Module } from '@nestjs/common';
import { AuditRetention } from './audit-retention';
import { AuditSealScheduler } from './audit-seal.scheduler';
import { AuditSealer } from './audit-sealer';
import { AuditVerifier } from './audit-verifier';
import { AuditReadDatabase } from '../../database/audit-read-database';
import { AUDIT_READ_SEALS, SealRepository } from './seal.repository';
import { SealSigner } from './seal-signer';

/** Tamper evidence for the audit trail: signed, hash-chained seals, verification, retention. */
@Module({
  providers: [
    SealRepository,
    { provide: AUDIT_READ_SEALS, inject: [AuditReadDatabase], useFactory: (read: AuditReadDatabase) => new SealRepository(read) },
    SealSigner,
    AuditSealer,
    AuditVerifier,
    AuditRetention,
    AuditSealScheduler,
  ],
  exports: [AuditSealer, AuditVerifier, AuditRetention, AuditSealScheduler, SealRepository, AUDIT_READ_SEALS],
})
export class AuditSealModule {}
