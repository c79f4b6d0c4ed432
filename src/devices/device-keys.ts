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

/** A compact JWS split and its header and payload read, not yet verified: decoded once per request. */
export interface DeviceToken {
  readonly header: { readonly alg?: unknown; readonly kid?: unknown };
  readonly payload: Record<string, unknown>;
  /** `header.payload`, the signed bytes as text. */
  readonly signingInput: string;
  /** The signature part, base64url; empty for an unsigned token. */
  readonly signature: string;
}

/** Reads a compact JWS without verifying it; 'malformed-token' when it is not one. */
export function decodeDeviceToken(raw: string): DeviceToken {
  const first = raw.indexOf('.');
  const last = raw.lastIndexOf('.');
  if (first <= 0 || last === first || raw.indexOf('.', first + 1) !== last) throw new AuthenticationError('malformed-token');
  const header = jsonObject(raw.slice(0, first));
  const payload = jsonObject(raw.slice(first + 1, last));
  return { header, payload, signingInput: raw.slice(0, last), signature: raw.slice(last + 1) };
}

function jsonObject(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new AuthenticationError('malformed-token');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AuthenticationError('malformed-token');
  return value as Record<string, unknown>;
}

/** Does the token carry a valid signature by `key` under `alg`? */
export function signatureMatches(token: DeviceToken | string, alg: string, key: KeyObject): boolean {
  let signed: Buffer;
  let signature: Buffer;
  if (typeof token === 'string') {
    const lastDot = token.lastIndexOf('.');
    if (lastDot < 0) return false;
    signed = Buffer.from(token.slice(0, lastDot));
    signature = Buffer.from(token.slice(lastDot + 1), 'base64url');
  } else {
    signed = Buffer.from(token.signingInput);
    signature = Buffer.from(token.signature, 'base64url');
  }
  try {
    if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519' && verify(null, signed, key, signature);
    if (alg === 'ES256') return key.asymmetricKeyType === 'ec' && verify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
  return false;
}

/**
 * A device token's signature (node:crypto, ES256 or EdDSA, against the cached KeyObject), then the
 * standard claims in jsonwebtoken's order and with its refusals: nbf, exp (with the clock skew),
 * audience. The device-specific checks (lifetime, iat, jti, device status) follow in
 * DeviceAuthenticator. One path for both algorithms; jsonwebtoken cannot verify EdDSA, and for
 * ES256 it cost a measured share of the session path (docs/decisions.md).
 */
export function verifyDeviceToken(token: DeviceToken, key: KeyObject, options: { audience: string; clockSkewSeconds: number }): Record<string, unknown> {
  if (token.signature.trim() === '') throw new AuthenticationError('unsigned-token');
  const alg = token.header.alg;
  if (typeof alg !== 'string' || !DEVICE_KEY_ALGS.includes(alg)) throw new AuthenticationError('algorithm-refused');
  if (!signatureMatches(token, alg, key)) throw new AuthenticationError('bad-signature');
  const claims = token.payload;
  const now = Date.now() / 1000;
  if (claims.nbf !== undefined) {
    if (typeof claims.nbf !== 'number') throw new AuthenticationError('malformed-token');
    if (claims.nbf > now + options.clockSkewSeconds) throw new AuthenticationError('token-not-yet-valid');
  }
  if (claims.exp !== undefined) {
    if (typeof claims.exp !== 'number') throw new AuthenticationError('malformed-token');
    if (now >= claims.exp + options.clockSkewSeconds) throw new AuthenticationError('token-expired');
  }
  const audiences = Array.isArray(claims.aud) ? (claims.aud as unknown[]) : [claims.aud];
  if (!audiences.includes(options.audience)) throw new AuthenticationError('wrong-audience');
  return claims;
}
