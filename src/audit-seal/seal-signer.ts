import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { readAuditKeyMaterial } from '../audit/audit-key';
import { SecretsProvider } from '../secrets/secrets-provider';

const SEAL_KEY_INFO = 'pos-session-broker audit seal v1';

/**
 * Signs seal hashes with a key that lives outside the database (derived with HKDF from the
 * audit key in the secret store, so it needs no secret of its own). Anyone with write access to
 * Postgres could rewrite events and recompute a plain hash chain; they cannot sign the result.
 */
@Injectable()
export class SealSigner implements OnModuleInit {
  private key: Buffer | undefined;
  private currentKeyId: string | undefined;

  constructor(
    private readonly secrets: SecretsProvider,
    private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const material = await readAuditKeyMaterial(this.secrets, this.config);
    this.key = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), SEAL_KEY_INFO, 32));
    this.currentKeyId = createHash('sha256').update(this.key).digest('hex').slice(0, 16);
  }

  /** Names the key without revealing it, so a seal signed under another key is told apart from a forged one. */
  get keyId(): string {
    if (!this.currentKeyId) throw new Error('SealSigner used before initialisation');
    return this.currentKeyId;
  }

  sign(sealHashHex: string): string {
    if (!this.key) throw new Error('SealSigner used before initialisation');
    return createHmac('sha256', this.key).update(sealHashHex, 'utf8').digest('hex');
  }

  verify(sealHashHex: string, signatureHex: string): boolean {
    const expected = Buffer.from(this.sign(sealHashHex), 'hex');
    const given = Buffer.from(signatureHex, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
