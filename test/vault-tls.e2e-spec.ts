import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../src/config/config.schema';
import { SecretStoreUnavailableError } from '../src/secrets/vault/vault-errors';
import { createVaultSecretsProvider } from '../src/secrets/vault/vault-provider.factory';
import type { VaultSecretsProvider } from '../src/secrets/vault/vault-secrets.provider';
import { startVaultDouble, type VaultDouble } from './support/vault-double';

// A throwaway self-signed certificate needs the openssl CLI (Node cannot issue certificates).
const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

(haveOpenssl ? describe : describe.skip)('Vault over TLS with VAULT_CA_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psb-vault-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  let v: VaultDouble;
  const providers: VaultSecretsProvider[] = [];

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    v = await startVaultDouble({ tls: { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') } });
    v.writeSecret('secret', 'merchants/0882819014', { username: 'merchant-a', password: 'tls-pw' });
  });
  afterAll(async () => {
    await Promise.all(providers.map((p) => p.close()));
    await v.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const provider = (env: Record<string, string>) => {
    const p = createVaultSecretsProvider(
      validateConfig({ SECRETS_PROVIDER: 'vault', VAULT_ADDR: v.url, VAULT_TOKEN: v.rootToken, VAULT_REQUEST_TIMEOUT_MS: '2000', ...env }),
      quiet,
    );
    providers.push(p);
    return p;
  };

  it('trusts the CA bundle it is given', async () => {
    expect(v.url).toMatch(/^https:/);
    expect((await provider({ VAULT_CA_FILE: certFile }).get('merchants/0882819014')).password).toBe('tls-pw');
  });

  it('refuses a certificate it cannot verify (verification is never turned off)', async () => {
    const p = provider({});
    await expect(p.get('merchants/0882819014')).rejects.toBeInstanceOf(SecretStoreUnavailableError);
    await expect(p.check()).rejects.toMatchObject({ detail: 'The TLS connection to Vault failed (is its CA in VAULT_CA_FILE?).' });
  });

  it('names an unreadable VAULT_CA_FILE at start', () => {
    expect(() => provider({ VAULT_CA_FILE: join(dir, 'missing.pem') })).toThrow(/VAULT_CA_FILE \(.*missing\.pem\) cannot be read: ENOENT/);
  });
});
