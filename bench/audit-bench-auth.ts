import { generateKeyPairSync } from 'node:crypto';
import { sign } from 'jsonwebtoken';

export interface BenchOperatorAuth {
  /** Broker settings that make it accept the bench's tokens (and not rate-limit the bench). */
  env: Record<string, string>;
  /** A valid auditor token (re-signed once a minute). */
  token(): string;
}

/** A stand-in identity provider: an ES256 key whose public half the broker is given. */
export function benchOperatorAuth(): BenchOperatorAuth {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuer = 'https://idp.bench.example';
  const audience = 'pos-session-broker-operators';
  let cached: { token: string; until: number } | undefined;
  return {
    env: {
      OPERATOR_JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      OPERATOR_JWT_ISSUER: issuer,
      OPERATOR_JWT_AUDIENCE: audience,
      OPERATOR_RATE_LIMIT_PER_MINUTE: '10000000',
    },
    token: () => {
      if (!cached || cached.until < Date.now()) {
        const token = sign({ roles: ['auditor'] }, privateKey, { algorithm: 'ES256', subject: 'bench-auditor', issuer, audience, expiresIn: 300 });
        cached = { token, until: Date.now() + 60_000 };
      }
      return cached.token;
    },
  };
}
