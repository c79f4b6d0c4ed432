import type { AppConfig } from '../config/app-config';
import type { SecretsProvider } from '../secrets/secrets-provider';
import { type SealSigningKey, signingKeyFromAuditKey, signingKeyFromPem } from './seal/seal-keys';

/**
 * The broker's audit key material (AUDIT_FINGERPRINT_KEY_REF, field `key`, base64, ≥ 32 bytes).
 * Session fingerprints use it as is; the version 1 seals' HMAC and idempotency encryption derive
 * their own keys from it with HKDF (so does the seal signing key when it has no secret of its
 * own). A missing or short key stops the start with a message naming the ref.
 */
export async function readAuditKeyMaterial(secrets: SecretsProvider, config: AppConfig): Promise<Buffer> {
  const ref = config.values.AUDIT_FINGERPRINT_KEY_REF;
  const secret = await secrets.get(ref).catch((err: Error) => {
    throw new Error(`The audit key (${ref}) cannot be read from the secret store: ${err.message}`, { cause: err });
  });
  const material = Buffer.from(secret.key ?? '', 'base64');
  if (material.length < 32) throw new Error(`The audit key (${ref}) must hold a base64 "key" of at least 32 bytes.`);
  return material;
}

/**
 * The private key that signs audit seals. With AUDIT_SEAL_KEY_REF set: that secret's `privateKey`
 * (PKCS#8 PEM, Ed25519 or P-256), a key of its own that can be rotated on its own. Unset: an
 * Ed25519 key derived from the audit key material, so a deployment that holds only the audit key
 * signs asymmetrically too. Read through the store's cache on every sealing round, so a new
 * version written to the store is picked up without a restart.
 */
export async function readSealSigningKey(secrets: SecretsProvider, config: AppConfig): Promise<SealSigningKey> {
  const ref = config.values.AUDIT_SEAL_KEY_REF;
  if (ref === undefined) return signingKeyFromAuditKey(await readAuditKeyMaterial(secrets, config));
  const secret = await secrets.get(ref).catch((err: Error) => {
    throw new Error(`The audit seal key (${ref}) cannot be read from the secret store: ${err.message}`, { cause: err });
  });
  const pem = secret.privateKey;
  if (!pem) throw new Error(`The audit seal key (${ref}) must hold a "privateKey" (PKCS#8 PEM, Ed25519 or P-256).`);
  try {
    return signingKeyFromPem(pem);
  } catch (err) {
    throw new Error(`The audit seal key (${ref}) ${(err as Error).message}.`, { cause: err });
  }
}
