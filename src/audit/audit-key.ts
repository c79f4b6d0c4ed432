import type { AppConfig } from '../config/app-config';
import type { SecretsProvider } from '../secrets/secrets-provider';

/**
 * The broker's audit key material (AUDIT_FINGERPRINT_KEY_REF, field `key`, base64, ≥ 32 bytes).
 * Session fingerprints use it as is; seal signatures and idempotency encryption derive their own
 * keys from it with HKDF. A missing or short key stops the start with a message naming the ref.
 */
export async function readAuditKeyMaterial(secrets: SecretsProvider, config: AppConfig): Promise<Buffer> {
  const ref = config.values.AUDIT_FINGERPRINT_KEY_REF;
  const secret = await secrets.get(ref).catch((err: Error) => {
    throw new Error(`The audit key (${ref}) cannot be read from the secret store: ${err.message}`);
  });
  const material = Buffer.from(secret.key ?? '', 'base64');
  if (material.length < 32) throw new Error(`The audit key (${ref}) must hold a base64 "key" of at least 32 bytes.`);
  return material;
}
