import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { AuthenticationError, ValidationError } from '../common/errors';

/** Device key algorithms: ES256 (P-256) and EdDSA (Ed25519). */
export type DeviceKeyAlg = 'ES256' | 'EdDSA';
export const DEVICE_KEY_ALGS: readonly string[] = ['ES256', 'EdDSA'];

/** Reads a device public key (JWK object or PEM); returns its algorithm and public JWK, whatever was sent. */
export function devicePublicKey(input: string | Record<string, unknown>): { alg: DeviceKeyAlg; jwk: Record<string, string> } {
  // A private key never belongs here: whoever sent it must treat it as exposed and make a new one.
  if (typeof input === 'string' ? input.includes('PRIVATE KEY') : 'd' in input) {
    throw new ValidationError('publicKey must be the public key only; the private key was sent and must be replaced.');
  }
  let key: KeyObject;
  try {
    key = typeof input === 'string' ? createPublicKey(input) : createPublicKey({ key: input as JsonWebKey, format: 'jwk' });
  } catch {
    throw new ValidationError('publicKey is not a readable public key (JWK or PEM).');
  }
  const jwk = key.export({ format: 'jwk' }) as Record<string, string>;
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { alg: 'ES256', jwk };
  if (key.asymmetricKeyType === 'ed25519') return { alg: 'EdDSA', jwk };
  throw new ValidationError('publicKey must be an EC P-256 key (ES256) or an Ed25519 key (EdDSA).');
}

/** Does the compact JWS carry a valid signature by `key` under `alg`? */
export function signatureMatches(raw: string, alg: string, key: KeyObject): boolean {
  const lastDot = raw.lastIndexOf('.');
  if (lastDot < 0) return false;
  const signed = Buffer.from(raw.slice(0, lastDot));
  const signature = Buffer.from(raw.slice(lastDot + 1), 'base64url');
  try {
    if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519' && verify(null, signed, key, signature);
    if (alg === 'ES256') return key.asymmetricKeyType === 'ec' && verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
  return false;
}

/**
 * EdDSA device tokens, which jsonwebtoken 9 cannot verify: the signature with node:crypto, then
 * what jsonwebtoken checks for ES256 tokens (audience, exp, nbf, with the same clock skew). The
 * strategy's own checks (lifetime, iat, jti, device status) follow for both algorithms.
 */
export function verifyEdDsaToken(raw: string, key: KeyObject, options: { audience: string; clockSkewSeconds: number }): Record<string, unknown> {
  const parts = raw.split('.');
  if (parts.length !== 3) throw new AuthenticationError('malformed-token');
  if (parts[2] === '') throw new AuthenticationError('unsigned-token');
  if (!signatureMatches(raw, 'EdDSA', key)) throw new AuthenticationError('bad-signature');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new AuthenticationError('malformed-token');
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new AuthenticationError('malformed-token');
  const claims = payload as Record<string, unknown>;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(options.audience)) throw new AuthenticationError('wrong-audience');
  const now = Date.now() / 1000;
  if (typeof claims.exp === 'number' && now >= claims.exp + options.clockSkewSeconds) throw new AuthenticationError('token-expired');
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now < claims.nbf - options.clockSkewSeconds))
    throw new AuthenticationError('token-not-yet-valid');
  return claims;
}
