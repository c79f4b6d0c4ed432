import { Module } from '@nestjs/common';
import { AuditRetention } from './audit-retention';
import { AuditSealScheduler } from './audit-seal.scheduler';
import { AuditSealer } from './audit-sealer';
import { AuditVerifier } from './audit-verifier';
import { SealRepository } from './seal.repository';
import { SealSigner } from './seal-signer';

/** Tamper evidence for the audit trail: signed, hash-chained seals, verification, retention. */
@Module({
  providers: [SealRepository, SealSigner, AuditSealer, AuditVerifier, AuditRetention, AuditSealScheduler],
  exports: [AuditSealer, AuditVerifier, AuditRetention, AuditSealScheduler, SealRepository],
})
export class AuditSealModule {}
