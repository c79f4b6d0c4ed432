import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { validateConfig } from '../src/config/config.schema';
import { SecretNotFoundError } from '../src/secrets/file-secrets.provider';
import { createVaultSecretsProvider } from '../src/secrets/vault/vault-provider.factory';
import { CredentialsUnavailableError, SecretStoreUnavailableError } from '../src/secrets/vault/vault-errors';
import type { VaultSecretsProvider } from '../src/secrets/vault/vault-secrets.provider';
import { startVaultDouble, type VaultDouble, type VaultDoubleOptions } from './support/vault-double';

const REF = 'merchants/0882819014';
const OTHER = 'merchants/0882819015';

function capturingLogger() {
  const lines: string[] = [];
  const push = (level: string) => (message: unknown) => void lines.push(`${level} ${String(message)}`);
  return { lines, logger: { log: push('log'), warn: push('warn'), error: push('error') } };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything an error exposes when printed, logged or serialised: message, stack, causes. */
function everythingIn(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    parts.push(inspect(e, { depth: 5 }), String((e as Error).stack ?? ''), JSON.stringify(e));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

describe('VaultSecretsProvider against the Vault double', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psb-vault-'));
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const secretId = `sid-${randomBytes(12).toString('hex')}`;
  const jwt = `eyJhbGciOiJSUzI1NiJ9.${randomBytes(24).toString('base64url')}.sig`;
  const roleIdFile = join(dir, 'role-id');
  const secretIdFile = join(dir, 'secret-id');
  const jwtFile = join(dir, 'jwt');
  const providers: VaultSecretsProvider[] = [];
  const doubles: VaultDouble[] = [];

  writeFileSync(roleIdFile, 'broker-role-id\n');
  writeFileSync(secretIdFile, `${secretId}\n`);
  writeFileSync(jwtFile, jwt);

  async function vault(options: Partial<VaultDoubleOptions> = {}, ttl = 3600, maxTtl = 0): Promise<VaultDouble> {
    const v = await startVaultDouble({
      policies: { broker: ['secret/data/merchants/*'] },
      approle: { roleId: 'broker-role-id', secretId, policies: ['broker'], tokenTtl: ttl, tokenMaxTtl: maxTtl },
      kubernetes: { role: 'pos-session-broker', jwt, policies: ['broker'], tokenTtl: ttl, tokenMaxTtl: maxTtl },
      ...options,
    });
    v.writeSecret('secret', REF, { username: 'merchant-a', password });
    v.writeSecret('secret', OTHER, { username: 'merchant-b', password: `${password}-b` });
    doubles.push(v);
    return v;
  }

  function provider(v: VaultDouble, env: Record<string, string> = {}, logger = capturingLogger().logger): VaultSecretsProvider {
    const p = createVaultSecretsProvider(
      validateConfig({
        SECRETS_PROVIDER: 'vault',
        VAULT_ADDR: v.url,
        VAULT_AUTH_METHOD: 'approle',
        VAULT_APPROLE_ROLE_ID_FILE: roleIdFile,
        VAULT_APPROLE_SECRET_ID_FILE: secretIdFile,
        SECRETS_CACHE_TTL_MS: '60000',
        VAULT_REQUEST_TIMEOUT_MS: '1000',
        ...env,
      }),
      logger,
    );
    p.start();
    providers.push(p);
    return p;
  }

  afterEach(async () => {
    await Promise.all(providers.splice(0).map((p) => p.close()));
    await Promise.all(doubles.splice(0).map((v) => v.close()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('authentication', () => {
    it('static token (from a file): reads the secret; the record prints as [redacted]', async () => {
      const v = await vault();
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, v.issueToken({ policies: ['broker'], ttl: 600 }));
      const p = provider(v, { VAULT_AUTH_METHOD: 'token', VAULT_TOKEN_FILE: tokenFile });
      const record = await p.get(REF);
      expect(record.username).toBe('merchant-a');
      expect(record.password).toBe(password);
      expect(JSON.stringify({ record })).not.toContain(password);
      expect(inspect(record)).not.toContain(password);
      // The point: how the record stringifies must not show the password.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string, @typescript-eslint/restrict-template-expressions
      expect(`${record}`).not.toContain(password);
    });

    it('static token: reads its file again when Vault stops accepting the old token (a Vault Agent sink rotated it)', async () => {
      const v = await vault();
      const tokenFile = join(dir, 'agent-sink');
      const first = v.issueToken({ policies: ['broker'], ttl: 600 });
      writeFileSync(tokenFile, first);
      const p = provider(v, { VAULT_AUTH_METHOD: 'token', VAULT_TOKEN_FILE: tokenFile });
      await p.get(REF);
      writeFileSync(tokenFile, v.issueToken({ policies: ['broker'], ttl: 600 }));
      v.revokeToken(first);
      expect((await p.refresh(REF)).password).toBe(password);
      // A token nobody accepts any more, and no new one in the file: the store is reported down.
      v.revokeAllTokens();
      await expect(p.refresh(OTHER)).rejects.toBeInstanceOf(SecretStoreUnavailableError);
      await expect(p.check()).rejects.toMatchObject({ detail: 'Vault refused the broker’s authentication.' });
    });

    it('sends X-Vault-Namespace when configured (and Vault refuses requests without it)', async () => {
      const v = await vault({ namespace: 'payments/pos' });
      await expect(provider(v).get(REF)).rejects.toBeInstanceOf(SecretStoreUnavailableError);
      const p = provider(v, { VAULT_NAMESPACE: 'payments/pos' });
      expect((await p.get(REF)).password).toBe(password);
      expect(v.requests.filter((r) => r.status === 200).every((r) => r.namespace === 'payments/pos')).toBe(true);
    });

    it('AppRole: logs in once with role_id and secret_id from files, renews before the TTL runs out', async () => {
      const v = await vault({}, 3);
      const { lines, logger } = capturingLogger();
      const p = provider(v, {}, logger);
      await p.get(REF);
      expect(v.stats.logins.approle).toBe(1);
      // The 3 s token would be dead by now without renew-self.
      await sleep(4_500);
      expect(v.stats.renewals).toBeGreaterThanOrEqual(1);
      expect((await p.refresh(REF)).password).toBe(password);
      expect(v.stats.logins.approle).toBe(1);
      expect(lines.join('\n')).not.toContain(secretId);
    });

    it('logs in again when renewal is refused (token revoked)', async () => {
      const v = await vault({}, 3);
      const { lines, logger } = capturingLogger();
      const p = provider(v, {}, logger);
      await p.get(REF);
      v.revokeAllTokens();
      await until(() => v.stats.logins.approle === 2, 5_000);
      expect(v.stats.renewalFailures).toBeGreaterThanOrEqual(1);
      expect(lines.some((l) => l.includes('renewal refused'))).toBe(true);
      expect((await p.refresh(REF)).password).toBe(password);
    });

    it('logs in again when renewal reaches the max TTL', async () => {
      const v = await vault({}, 2, 3);
      const p = provider(v);
      await p.get(REF);
      await until(() => v.stats.logins.approle >= 2, 5_000);
      expect(v.stats.renewals).toBeGreaterThanOrEqual(1);
      expect((await p.refresh(REF)).password).toBe(password);
    });

    it('an expired token on a read: checks the token, logs in again and retries once', async () => {
      const v = await vault();
      const p = provider(v);
      await p.get(REF);
      v.expireAllTokens();
      expect((await p.refresh(REF)).password).toBe(password);
      expect(v.stats.logins.approle).toBe(2);
    });

    it('Kubernetes: logs in with the service-account JWT; a refused JWT is reported without the JWT', async () => {
      const v = await vault();
      const p = provider(v, { VAULT_AUTH_METHOD: 'kubernetes', VAULT_KUBERNETES_ROLE: 'pos-session-broker', VAULT_KUBERNETES_JWT_PATH: jwtFile });
      expect((await p.get(REF)).password).toBe(password);
      expect(v.stats.logins.kubernetes).toBe(1);

      const forged = join(dir, 'forged-jwt');
      writeFileSync(forged, 'eyJ.forged.jwt');
      const { lines, logger } = capturingLogger();
      const bad = provider(v, { VAULT_AUTH_METHOD: 'kubernetes', VAULT_KUBERNETES_ROLE: 'pos-session-broker', VAULT_KUBERNETES_JWT_PATH: forged }, logger);
      const err = await bad.get(REF).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecretStoreUnavailableError);
      await expect(bad.check()).rejects.toMatchObject({ detail: 'Vault refused the broker’s authentication.' });
      expect(everythingIn(err) + lines.join('\n')).not.toContain('eyJ.forged.jwt');
    });

    it('docker/vault/broker-policy.hcl grants the broker what it reads and nothing else', async () => {
      const hcl = readFileSync(join(__dirname, '..', 'docker', 'vault', 'broker-policy.hcl'), 'utf8');
      const readable = [...hcl.matchAll(/path "([^"]+)"\s*\{\s*capabilities\s*=\s*\[([^\]]*)\]/g)].filter((m) => m[2].includes('"read"')).map((m) => m[1]);
      expect(readable).toEqual(expect.arrayContaining(['secret/data/merchants/*', 'secret/data/broker/audit-fingerprint-key']));
      const v = await vault({
        policies: { 'pos-session-broker': readable },
        approle: { roleId: 'broker-role-id', secretId, policies: ['pos-session-broker'] },
      });
      v.writeSecret('secret', 'broker/audit-fingerprint-key', { key: randomBytes(32).toString('base64') });
      v.writeSecret('secret', 'hyp/0882819014', { username: 'u', password: 'p' });
      const p = provider(v);
      expect((await p.get(REF)).password).toBe(password);
      expect((await p.get('broker/audit-fingerprint-key')).key).toHaveLength(44);
      await expect(p.get('hyp/0882819014')).rejects.toBeInstanceOf(CredentialsUnavailableError);
      await p.check();
    });

    it('revokes the token it logged in for when closed', async () => {
      const v = await vault();
      const p = provider(v);
      await p.get(REF);
      await p.close();
      expect(v.stats.revocations).toBe(1);
    });
  });

  describe('cache, rotation and refresh', () => {
    it('a new version written to Vault is in use within the TTL, refreshed in the background for values in use', async () => {
      const v = await vault();
      const p = provider(v, { SECRETS_CACHE_TTL_MS: '800', VAULT_MAX_STALENESS_MS: '60000' });
      expect((await p.get(REF)).password).toBe(password);
      v.writeSecret('secret', REF, { username: 'merchant-a', password: 'rotated-1' });
      expect((await p.get(REF)).password).toBe(password); // cached, within the TTL
      await sleep(900);
      const reads = v.stats.kvReads;
      expect((await p.get(REF)).password).toBe('rotated-1');
      expect(v.stats.kvReads).toBe(reads); // already re-read in the background, not on this call
    });

    it('an idle value past its TTL is read again on use', async () => {
      const v = await vault();
      const p = provider(v, { SECRETS_CACHE_TTL_MS: '300', VAULT_MAX_STALENESS_MS: '60000' });
      await p.get(REF);
      await sleep(500); // the background refresh of the fresh value has happened by now
      v.writeSecret('secret', REF, { username: 'merchant-a', password: 'rotated-2' });
      await sleep(400); // idle: not refreshed again
      expect((await p.get(REF)).password).toBe('rotated-2');
    });

    it('refresh() bypasses the cache; an unchanged version keeps the cached record', async () => {
      const v = await vault();
      const p = provider(v);
      const first = await p.get(REF);
      expect(await p.refresh(REF)).toBe(first);
      v.writeSecret('secret', REF, { username: 'merchant-a', password: 'rotated-3' });
      expect((await p.get(REF)).password).toBe(password);
      expect((await p.refresh(REF)).password).toBe('rotated-3');
      expect((await p.get(REF)).password).toBe('rotated-3');
    });

    it('concurrent misses share one read', async () => {
      const v = await vault();
      const p = provider(v);
      await p.get(OTHER); // logs in
      const reads = v.stats.kvReads;
      await Promise.all(Array.from({ length: 20 }, () => p.get(REF)));
      expect(v.stats.kvReads - reads).toBe(1);
    });

    it('names the fields from the keys the reference maps', async () => {
      const v = await vault();
      v.writeSecret('secret', 'merchants/mapped', { user: 'merchant-m', pass: 'mapped-pw' });
      const p = provider(v);
      const record = await p.get('merchants/mapped?username=user&password=pass');
      expect([record.username, record.password]).toEqual(['merchant-m', 'mapped-pw']);
    });
  });

  describe('failures', () => {
    it('a missing, denied, malformed or deleted secret fails its own reference only, with no re-login loop', async () => {
      const v = await vault();
      v.writeSecret('secret', 'outside/policy', { username: 'x', password: 'y' });
      v.writeSecret('secret', 'merchants/no-password', { username: 'x' });
      const { lines, logger } = capturingLogger();
      const p = provider(v, {}, logger);
      expect((await p.get(REF)).password).toBe(password);
      for (const ref of ['merchants/missing', 'outside/policy', 'merchants/../x', 'merchants/no-password?password=pw']) {
        const err = await p.get(ref).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(CredentialsUnavailableError);
        expect(err).toBeInstanceOf(SecretNotFoundError);
        expect(err).toMatchObject({ status: 503, detail: 'The credentials for this terminal are not available.' });
      }
      expect(v.stats.logins.approle).toBe(1);
      expect((await p.get(OTHER)).password).toBe(`${password}-b`);
      expect(lines.some((l) => l.includes('merchants/missing') && l.includes('not found'))).toBe(true);
      expect(lines.some((l) => l.includes('outside/policy') && l.includes('permission denied'))).toBe(true);

      // Deleted after it was cached: the refresh stops serving it at once.
      v.deleteSecret('secret', REF);
      await expect(p.refresh(REF)).rejects.toBeInstanceOf(CredentialsUnavailableError);
      await expect(p.get(REF)).rejects.toBeInstanceOf(CredentialsUnavailableError);
      expect((await p.get(OTHER)).username).toBe('merchant-b');
    });

    it('sealed or unreachable: cached values serve until the max staleness, then 503; uncached ones fail at once', async () => {
      const v = await vault();
      const { lines, logger } = capturingLogger();
      const p = provider(v, { SECRETS_CACHE_TTL_MS: '200', VAULT_MAX_STALENESS_MS: '2000' }, logger);
      await p.get(REF);
      v.seal();
      await expect(p.get(OTHER)).rejects.toBeInstanceOf(SecretStoreUnavailableError);
      await sleep(300);
      expect((await p.get(REF)).password).toBe(password); // stale but within the max staleness
      expect((await p.refresh(REF)).password).toBe(password); // after a 405: still the cached value
      await expect(p.check()).rejects.toMatchObject({ status: 503, detail: 'Vault is sealed.' });

      v.unseal();
      v.setReachable(false);
      await expect(p.check()).rejects.toMatchObject({ detail: 'Vault cannot be reached.' });
      expect((await p.get(REF)).password).toBe(password);
      await sleep(2_000);
      const err = await p.get(REF).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecretStoreUnavailableError);
      expect(err).toMatchObject({ status: 503, retryAfterSeconds: 5 });
      expect(lines.some((l) => l.startsWith('error Vault cannot be read'))).toBe(true);
      expect(lines.some((l) => l.includes('serving cached credentials merchants/0882819014'))).toBe(true);
      expect(lines.some((l) => l.startsWith('error cached credentials merchants/0882819014 passed the max staleness'))).toBe(true);

      v.setReachable(true);
      expect((await p.get(REF)).password).toBe(password);
      await p.check();
      expect(lines.some((l) => l.includes('Vault can be read again'))).toBe(true);
    });

    it('a Vault that does not answer in time is unavailable after VAULT_REQUEST_TIMEOUT_MS', async () => {
      const v = await vault();
      const p = provider(v, { VAULT_REQUEST_TIMEOUT_MS: '300' });
      await p.get(REF);
      v.setLatency(1_500);
      const started = Date.now();
      await expect(p.get(OTHER)).rejects.toBeInstanceOf(SecretStoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(1_400);
      await expect(p.check()).rejects.toMatchObject({ detail: 'Vault did not answer in time.' });
      v.setLatency(0);
    });

    it('no password, token, secret_id or JWT in any log line, error message, stack or cause', async () => {
      const v = await vault();
      const { lines, logger } = capturingLogger();
      const p = provider(v, {}, logger);
      await p.get(REF);
      const errors: unknown[] = [];
      v.seal();
      errors.push(await p.get(OTHER).catch((e: unknown) => e));
      errors.push(await p.check().catch((e: unknown) => e));
      v.unseal();
      errors.push(await p.get('merchants/missing').catch((e: unknown) => e));
      v.revokeAllTokens();
      errors.push(
        await provider(v, { VAULT_AUTH_METHOD: 'token', VAULT_TOKEN: v.rootToken.slice(0, -2) + 'xx' }, logger)
          .get(REF)
          .catch((e: unknown) => e),
      );
      const text = errors.map(everythingIn).join('\n') + lines.join('\n') + JSON.stringify(v.requests);
      expect(errors.every((e) => e instanceof Error)).toBe(true);
      for (const secret of [password, `${password}-b`, secretId, jwt, v.rootToken]) expect(text).not.toContain(secret);
    });
  });
});
