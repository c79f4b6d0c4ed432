import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const DEMO_TERMINAL = '0882819014';

/** One demo terminal per provider besides Hyp, each on its own in-process sandbox. */
export const DEMO_PROVIDER_TERMINALS = {
  payroc: '0882819020',
  'embedded-components': '0882819021',
  wallet: '0882819022',
} as const;

const secret = () => randomBytes(18).toString('base64url');

/** Where the embedded mode keeps the audit seals' Ed25519 signing key (run-embedded points AUDIT_SEAL_KEY_REF at it). */
export const DEV_SEAL_KEY_REF = 'broker/audit-seal-key';

/** Secrets of the broker itself added after the first version; filled in when missing, like the providers'. */
function brokerSecrets(): Record<string, Record<string, string>> {
  return { [DEV_SEAL_KEY_REF]: { privateKey: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() } };
}

/** The other providers' dev secrets, under `<provider>/<terminal>` like Hyp's. */
function providerSecrets(): Record<string, Record<string, string>> {
  const t = DEMO_PROVIDER_TERMINALS;
  return {
    [`payroc/${t.payroc}`]: { apiKey: secret() },
    [`embedded-components/${t['embedded-components']}`]: { gatewayApiKey: secret(), merchantCentralApiKey: secret() },
    [`wallet/${t.wallet}`]: { authToken: secret(), signingKey: secret() },
  };
}

/**
 * The embedded mode's secret store: generated once with random values, readable by the local
 * user only. Entries added by later versions (other providers) are filled in when missing. The
 * production configuration refuses this file.
 */
export function ensureDevSecrets(path: string, fingerprintKeyRef: string): Record<string, Record<string, string>> {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const secrets = {
      _comment: 'Generated for development by the embedded mode. Never use in production.',
      [fingerprintKeyRef]: { key: randomBytes(32).toString('base64') },
      [`hyp/${DEMO_TERMINAL}`]: { username: 'sandbox-merchant', password: randomBytes(18).toString('base64url') },
    };
    writeFileSync(path, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  }
  const secrets = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Record<string, string>>;
  const missing = Object.entries({ ...brokerSecrets(), ...providerSecrets() }).filter(([ref]) => !(ref in secrets));
  if (missing.length > 0) {
    Object.assign(secrets, Object.fromEntries(missing));
    writeFileSync(path, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  }
  return secrets;
}

/** Sandbox merchants: every `hyp/<terminal>` entry of the dev secrets. */
export function sandboxTerminals(secrets: Record<string, Record<string, string>>): Record<string, { user: string; password: string }> {
  const out: Record<string, { user: string; password: string }> = {};
  for (const [ref, value] of Object.entries(secrets)) {
    const m = /^hyp\/(\d{10})$/.exec(ref);
    if (m && value.username && value.password) out[m[1]] = { user: value.username, password: value.password };
  }
  return out;
}
