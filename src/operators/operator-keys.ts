import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { passportJwtSecret } from 'jwks-rsa';
import { AuthenticationError, DependencyUnavailableError } from '../common/errors';
import type { Config } from '../config/config.schema';

export type KeyCallback = (err: unknown, key?: unknown) => void;
/** passport-jwt's secretOrKeyProvider. */
export type OperatorKeyProvider = (req: unknown, rawJwt: string, done: KeyCallback) => void;

/** JWKS look-ups: keys kept 10 minutes; an unknown `kid` refetches, at most 10 times a minute. */
const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
const JWKS_REQUESTS_PER_MINUTE = 10;
const JWKS_TIMEOUT_MS = 5_000;

/**
 * Where operator tokens' verification keys come from: the identity provider's JWKS, a configured
 * public key (small installs; the embedded mode's local key), or nowhere, in which case every
 * operator route answers 401.
 */
export function operatorKeyProvider(c: Config): { provider: OperatorKeyProvider; source: string } {
  if (c.OPERATOR_JWKS_URI) {
    return {
      source: `JWKS ${c.OPERATOR_JWKS_URI}`,
      provider: passportJwtSecret({
        jwksUri: c.OPERATOR_JWKS_URI,
        cache: true,
        cacheMaxAge: JWKS_CACHE_MAX_AGE_MS,
        rateLimit: true,
        jwksRequestsPerMinute: JWKS_REQUESTS_PER_MINUTE,
        timeout: JWKS_TIMEOUT_MS,
        handleSigningKeyError: (err, cb) => cb(jwksFailure(err)),
      }) as OperatorKeyProvider,
    };
  }
  const key = staticKey(c);
  if (key) return { source: 'configured public key', provider: (_req, _raw, done) => done(null, key) };
  return {
    source: 'none (operator routes answer 401)',
    provider: (_req, _raw, done) => done(new AuthenticationError('operator-auth-not-configured')),
  };
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
      throw new Error(`${setting}: cannot read ${c.OPERATOR_JWT_PUBLIC_KEY_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
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

/** An unknown key is the caller's problem (401); an unreachable or broken JWKS endpoint is ours (503). */
function jwksFailure(err: Error | null): Error | null {
  if (err === null) return null;
  if (err.name === 'SigningKeyNotFoundError') return new AuthenticationError('unknown-kid');
  if (err.name === 'JwksRateLimitError') return new AuthenticationError('unknown-kid-rate-limited');
  return new DependencyUnavailableError('The identity provider keys are unavailable; retry later.', 5, { cause: err });
}
