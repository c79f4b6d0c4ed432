import { base64url, base64urlJson, randomId } from './encoding.js';
import { signBytes, type DeviceKey } from './keys.js';

/** The broker refuses device tokens living longer than its maximum; a minute is plenty for one request. */
export const MAX_TOKEN_LIFETIME_SECONDS = 60;

export interface DeviceTokenClaims {
  readonly deviceId: string;
  readonly keyId: string;
  /** The broker's device audience (DEVICE_JWT_AUDIENCE), which enrollment returns. */
  readonly audience: string;
  /** Sent as the `sv` claim when set. */
  readonly softwareVersion?: string;
  /** Seconds, at most 60 (default 60). */
  readonly lifetimeSeconds?: number;
  /** Milliseconds since the epoch (tests inject a clock). */
  readonly now?: number;
}

/**
 * A fresh compact JWS for one request: new `jti`, `iat` now, `exp` at most 60 s later. Never
 * reused: the broker refuses a replayed jti.
 */
export async function signDeviceToken(key: DeviceKey, claims: DeviceTokenClaims): Promise<string> {
  const lifetime = Math.min(MAX_TOKEN_LIFETIME_SECONDS, Math.max(1, Math.floor(claims.lifetimeSeconds ?? MAX_TOKEN_LIFETIME_SECONDS)));
  const iat = Math.floor((claims.now ?? Date.now()) / 1000);
  const header = { alg: key.alg, typ: 'JWT', kid: claims.keyId };
  const payload: Record<string, unknown> = { sub: claims.deviceId, aud: claims.audience, iat, exp: iat + lifetime, jti: randomId() };
  if (claims.softwareVersion !== undefined) payload.sv = claims.softwareVersion;
  const signingInput = `${base64urlJson(header)}.${base64urlJson(payload)}`;
  const signature = await signBytes(key, new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64url(signature)}`;
}
