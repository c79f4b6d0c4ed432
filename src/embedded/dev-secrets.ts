import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const DEMO_TERMINAL = '0882819014';

/**
 * The embedded mode's secret store: generated once with random values, readable by the local
 * user only. The production configuration refuses this file.
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
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, Record<string, string>>;
}

/** Sandbox merchants: every `hyp/<terminal>` entry of the dev secrets. */
export function sandboxTerminals(
  secrets: Record<string, Record<string, string>>,
): Record<string, { user: string; password: string }> {
  const out: Record<string, { user: string; password: string }> = {};
  for (const [ref, value] of Object.entries(secrets)) {
    const m = /^hyp\/(\d{10})$/.exec(ref);
    if (m && value.username && value.password) out[m[1]] = { user: value.username, password: value.password };
  }
  return out;
}
