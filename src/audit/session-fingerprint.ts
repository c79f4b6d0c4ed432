import { createHmac } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { SecretsProvider } from '../secrets/secrets-provider';

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
    const ref = this.config.values.AUDIT_FINGERPRINT_KEY_REF;
    const secret = await this.secrets.get(ref).catch((err: Error) => {
      throw new Error(`The audit fingerprint key (${ref}) cannot be read from the secret store: ${err.message}`);
    });
    const key = Buffer.from(secret.key ?? '', 'base64');
    if (key.length < 32) throw new Error(`The audit fingerprint key (${ref}) must hold a base64 "key" of at least 32 bytes.`);
    this.key = key;
  }

  fingerprint(sessionId: string): string {
    if (!this.key) throw new Error('SessionFingerprinter used before initialisation');
    return createHmac('sha256', this.key).update(sessionId, 'utf8').digest('hex');
  }
}
