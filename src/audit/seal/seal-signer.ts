import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { readAuditKeyMaterial, readSealSigningKey } from '../audit-key';
import { SecretsProvider } from '../../secrets/secrets-provider';
import type { SealSigningKey } from './seal-keys';

const HMAC_SEAL_KEY_INFO = 'pos-session-broker audit seal v1';

/**
 * The keys of the seals. New seals are signed with an asymmetric key from the secret store
 * (audit-key.ts readSealSigningKey), whose public half is published, so anyone can check them
 * and only the broker can make them: someone with write access to Postgres could rewrite events
 * and recompute a plain hash chain, but cannot sign the result. The HMAC key of the version 1
 * seals (derived from the audit key, as before) is kept to verify seals written before the switch.
 */
@Injectable()
export class SealSigner implements OnModuleInit {
  private hmacKey: Buffer | undefined;
  private hmacKeyId: string | undefined;

  constructor(
    private readonly secrets: SecretsProvider,
    private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const material = await readAuditKeyMaterial(this.secrets, this.config);
    this.hmacKey = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), HMAC_SEAL_KEY_INFO, 32));
    this.hmacKeyId = createHash('sha256').update(this.hmacKey).digest('hex').slice(0, 16);
    // A missing or unusable seal key stops the start, naming the ref, rather than the first seal.
    await this.signingKey();
  }

  /** The key to sign the next seal with, read through the secret store's cache (a rotation is seen within its TTL). */
  signingKey(): Promise<SealSigningKey> {
    return readSealSigningKey(this.secrets, this.config);
  }

  /** Id of the HMAC key of the version 1 seals: names the key without revealing it. */
  get hmacSealKeyId(): string {
    if (!this.hmacKeyId) throw new Error('SealSigner used before initialisation');
    return this.hmacKeyId;
  }

  /** Checks a version 1 seal's HMAC over its hash. */
  verifyHmac(sealHashHex: string, signature: Buffer): boolean {
    if (!this.hmacKey) throw new Error('SealSigner used before initialisation');
    const expected = createHmac('sha256', this.hmacKey).update(sealHashHex, 'utf8').digest();
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
}
