import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for stored idempotent responses (they hold a live sessionId). The key is derived
 * with HKDF from a secret-store key, under its own label, so it is never the key itself; the
 * record's (device, Idempotency-Key) is bound in as associated data.
 */
export class ResponseCipher {
  private readonly key: Buffer;

  constructor(secretKeyMaterial: Buffer) {
    this.key = Buffer.from(hkdfSync('sha256', secretKeyMaterial, Buffer.alloc(0), 'pos-session-broker/idempotency/v1', 32));
  }

  encrypt(plaintext: string, associated: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associated));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), body.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  decrypt(sealed: string, associated: string): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || !iv || !body || !tag) throw new Error('unknown sealed response format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associated));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}
