import { createHmac } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { SecretsProvider } from '../secrets/secrets-provider';
import { readAuditKeyMaterial } from './audit-key';

/**
 * Keyed HMAC-SHA256 of a sessionId: lets an auditor who holds a sessionId find its issuance,
 * while the trail itself never holds anything that could be replayed at the gateway.
 */
@Injectable()
export class SessionFingerprinter implements OnModuleInit {
  private key: Buffer | undefined;

  constructor(
    private readonly secrets: SecretsProvider,
    private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    this.key = await readAuditKeyMaterial(this.secrets, this.config);
  }

  fingerprint(sessionId: string): string {
    if (!this.key) throw new Error('SessionFingerprinter used before initialisation');
    return createHmac('sha256', this.key).update(sessionId, 'utf8').digest('hex');
  }
}
