import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decode, type JwtPayload } from 'jsonwebtoken';
import { AuthenticationError } from '../common/errors';
import type { Config } from '../config/config.schema';
import { JwksKeySource } from './operator-jwks';

export type KeyCallback = (err: unknown, key?: unknown) => void;
/** passport-jwt's secretOrKeyProvider. */
export type OperatorKeyProvider = (req: unknown, rawJwt: string, done: KeyCallback) => void;

const JWKS_TIMEOUT_MS = 5_000;

/**
 * Where operator tokens' verification keys come from: the identity provider's JWKS, a configured
 * public key (small installs; the embedded mode's local key), or nowhere, in which case every
 * operator route answers 401.
 */
export function operatorKeyProvider(c: Config): { provider: OperatorKeyProvider; source: string } {
  if (c.OPERATOR_JWKS_URI) {
    const jwks = new JwksKeySource({
      uri: c.OPERATOR_JWKS_URI,
      maxAgeMs: c.OPERATOR_JWKS_CACHE_MAX_AGE_MS,
      refetchIntervalMs: c.OPERATOR_JWKS_REFETCH_INTERVAL_MS,
      timeoutMs: JWKS_TIMEOUT_MS,
    });
    return {
      source: `JWKS ${c.OPERATOR_JWKS_URI}`,
      provider: (_req, raw, done) => {
        const token = decode(raw, { complete: true });
        // A token its claims already refuse never reaches the JWKS (no fetch for an unknown kid).
        const refused = token && typeof token.payload === 'object' ? refusedByClaims(token.payload, c) : 'malformed-token';
        if (refused) return done(new AuthenticationError(refused));
        const kid = token?.header.kid;
        jwks.key(typeof kid === 'string' ? kid : undefined).then(
          (key) => done(null, key),
          (err: unknown) => done(err),
        );
      },
    };
  }
  const key = staticKey(c);
  if (key) return { source: 'configured public key', provider: (_req, _raw, done) => done(null, key) };
  return {
    source: 'none (operator routes answer 401)',
    provider: (_req, _raw, done) => done(new AuthenticationError('operator-auth-not-configured')),
  };
}

/**
 * The refusal passport-jwt would reach after verifying the signature, read from the unverified
 * claims: issuer, audience, expiry. Only to spare the identity provider; the verified token is
 * checked again in full.
 */
function refusedByClaims(claims: JwtPayload, c: Config): string | undefined {
  if (c.OPERATOR_JWT_ISSUER !== undefined && claims.iss !== c.OPERATOR_JWT_ISSUER) return 'wrong-issuer';
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(c.OPERATOR_JWT_AUDIENCE)) return 'wrong-audience';
  if (typeof claims.exp !== 'number') return 'claims-missing';
  if (claims.exp + c.OPERATOR_JWT_CLOCK_SKEW_SECONDS <= Date.now() / 1000) return 'token-expired';
  return undefined;
}

function staticKey(c: Config): KeyObject | undefined {
  let pem: string | undefined;
  let setting = 'OPERATOR_JWT_PUBLIC_KEY';
  if (c.OPERATOR_JWT_PUBLIC_KEY) {
    // One-line .env values carry the PEM's line breaks as "\n".
    pem = c.OPERATOR_JWT_PUBLIC_KEY.replace(/\\n/g, '\n');
  } else if (c.OPERATOR_JWT_PUBLIC_KEY_FILE) {
    setting = 'OPERATOR_JWT_PUBLIC_KEY_FILE';
    try {
      pem = readFileSync(c.OPERATOR_JWT_PUBLIC_KEY_FILE, 'utf8');
    } catch (err) {
      throw new Error(`${setting}: cannot read ${c.OPERATOR_JWT_PUBLIC_KEY_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    }
  }
  if (pem === undefined) return undefined;
  let key: KeyObject;
  try {
    // Always the public half, even if a private key was configured by mistake.
    key = createPublicKey(pem);
  } catch {
    throw new Error(`${setting}: not a readable PEM public key`);
  }
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa-pss') {
    throw new Error(`${setting}: must be an RSA or EC key (got ${key.asymmetricKeyType ?? 'unknown'})`);
  }
  return key;
}
