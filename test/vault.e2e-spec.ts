import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { SecretsProvider } from '../src/secrets/secrets-provider';
import { TerminalRepository } from '../src/terminals/terminal.repository';
import { BrokerHarness, SECOND_TERMINAL, TERMINAL, type TestDevice } from './support/broker-harness';
import { startVaultDouble, type VaultDouble } from './support/vault-double';

const MAPPED_TERMINAL = '0882819017';
const TTL_MS = 1_500;
const MAX_STALENESS_MS = 3_500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The broker with SECRETS_PROVIDER=vault, AppRole login, against the in-process Vault double. */
describe('merchant credentials from Vault (through the broker)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psb-vault-e2e-'));
  const secretId = `sid-${randomBytes(12).toString('hex')}`;
  const fingerprintKey = randomBytes(32);
  let password = `vault-pw-${randomBytes(10).toString('hex')}`;
  let v: VaultDouble;
  let h: BrokerHarness | undefined;
  let device: TestDevice;

  const broker = () => h!;
  const ready = async () => {
    const res = await request(`${broker().baseUrl}/health/ready`);
    return { status: res.statusCode, body: (await res.body.json()) as { details: Record<string, Record<string, unknown>> } };
  };
  const rotate = (next: string) => {
    password = next;
    broker().secretsSeen.add(next);
    v.writeSecret('secret', `hyp/${TERMINAL}`, { username: 'merchant-a', password: next });
    broker().sandbox.setTerminal(TERMINAL, { user: 'merchant-a', password: next });
  };

  beforeAll(async () => {
    v = await startVaultDouble({
      policies: { 'pos-session-broker': ['secret/data/hyp/*', 'secret/data/merchants/*', 'secret/data/broker/*'] },
      approle: { roleId: 'broker-role', secretId, policies: ['pos-session-broker'], tokenTtl: 3 },
    });
    v.writeSecret('secret', 'broker/audit-fingerprint-key', { key: fingerprintKey.toString('base64') });
    v.writeSecret('secret', `hyp/${TERMINAL}`, { username: 'merchant-a', password });
    const secretIdFile = join(dir, 'secret-id');
    writeFileSync(secretIdFile, secretId, { mode: 0o600 });
    h = await BrokerHarness.start({
      SECRETS_PROVIDER: 'vault',
      VAULT_ADDR: v.url,
      VAULT_AUTH_METHOD: 'approle',
      VAULT_APPROLE_ROLE_ID: 'broker-role',
      VAULT_APPROLE_SECRET_ID_FILE: secretIdFile,
      SECRETS_CACHE_TTL_MS: String(TTL_MS),
      VAULT_MAX_STALENESS_MS: String(MAX_STALENESS_MS),
      VAULT_REQUEST_TIMEOUT_MS: '1000',
    });
    h.secretsSeen.add(password);
    h.secretsSeen.add(secretId);
    h.secretsSeen.add(fingerprintKey.toString('base64'));
    h.sandbox.setTerminal(TERMINAL, { user: 'merchant-a', password });
    await h.app.get(TerminalRepository).upsert({
      terminalNumber: MAPPED_TERMINAL,
      label: 'mapped keys',
      provider: 'hyp',
      endpointUrl: h.sandboxUrl,
      credentialRef: `merchants/${MAPPED_TERMINAL}?username=user&password=pass`,
    });
    device = await h.enrollDevice(undefined, [TERMINAL, SECOND_TERMINAL, MAPPED_TERMINAL]);
  });

  afterAll(async () => {
    await h?.close();
    await v.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const issue = (terminalNumber: string) =>
    broker().issue(device, { terminalNumber, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } });

  it('issues a session with the merchant password and the audit key read from Vault (one AppRole login)', async () => {
    const res = await issue(TERMINAL);
    expect(res.status).toBe(201);
    const events = await broker().auditEvents(String(res.body.requestId));
    const issued = events.find((e) => e.action === 'session.issued');
    const expected = createHmac('sha256', fingerprintKey).update(String(res.body.sessionId)).digest('hex');
    expect(issued?.session_fingerprint).toBe(expected);
    expect(v.stats.logins.approle).toBe(1);
    expect((await ready()).body.details.secrets).toMatchObject({ status: 'up', provider: 'vault' });
  });

  it('renews its 3 s token before it expires, and logs in again when renewal is refused', async () => {
    const reads = v.stats.kvReads;
    await sleep(4_000);
    expect(v.stats.kvReads).toBeGreaterThan(reads); // values in use were re-read in the background, unasked
    expect((await issue(TERMINAL)).status).toBe(201); // read with the renewed token: the value was idle past its TTL
    expect(v.stats.renewals).toBeGreaterThanOrEqual(1);
    expect(v.stats.logins.approle).toBe(1);

    v.revokeAllTokens();
    await until(() => v.stats.logins.approle === 2, 5_000);
    await broker().app.get(SecretsProvider).refresh(`hyp/${TERMINAL}`);
    expect((await issue(TERMINAL)).status).toBe(201);
  });

  it('after a gateway 405 re-reads the secret once, so a password rotated in Vault works at once', async () => {
    await broker().app.get(SecretsProvider).refresh(`hyp/${TERMINAL}`); // cached just now: fresh for the whole TTL
    const [calls, reads] = [broker().sandbox.stats.getSessionId, v.stats.kvReads];
    rotate(`rotated-${randomBytes(8).toString('hex')}`);
    const res = await issue(TERMINAL);
    expect(res.status).toBe(201);
    expect(broker().sandbox.stats.getSessionId - calls).toBe(2); // the 405 with the cached password, then success
    expect(v.stats.kvReads - reads).toBeGreaterThanOrEqual(1);
    expect(broker().logs.text).toMatch(/credentials hyp\/0882819014 changed in Vault: now version \d+/);
  });

  it('a 405 while Vault still holds the old password: one re-read, no second gateway call, the 502 is returned', async () => {
    broker().sandbox.setTerminal(TERMINAL, { user: 'merchant-a', password: 'changed-at-the-gateway-only' });
    try {
      const [calls, reads] = [broker().sandbox.stats.getSessionId, v.stats.kvReads];
      const res = await issue(TERMINAL);
      expect(res.body).toMatchObject({ status: 502, code: 'gateway-merchant-auth-failed', gatewayResult: '405' });
      expect(broker().sandbox.stats.getSessionId - calls).toBe(1);
      expect(v.stats.kvReads - reads).toBe(1);
    } finally {
      broker().sandbox.setTerminal(TERMINAL, { user: 'merchant-a', password });
    }
  });

  it('a rotation is picked up within the TTL without any 405', async () => {
    rotate(`rotated-${randomBytes(8).toString('hex')}`);
    await sleep(TTL_MS + 200);
    const calls = broker().sandbox.stats.getSessionId;
    expect((await issue(TERMINAL)).status).toBe(201);
    expect(broker().sandbox.stats.getSessionId - calls).toBe(1);
  });

  it('a terminal whose secret is missing gets 503 on its own; the other terminals are unaffected', async () => {
    const missing = await issue(SECOND_TERMINAL);
    expect(missing.status).toBe(503);
    expect(missing.body).toMatchObject({ code: 'dependency-unavailable', detail: 'The credentials for this terminal are not available.' });
    expect(missing.headers['retry-after']).toBe('30');
    const events = await broker().auditEvents(String(missing.body.requestId));
    expect(events.map((e) => [e.action, e.reason])).toEqual([
      ['session.requested', null],
      ['session.failed', 'dependency-unavailable'],
    ]);
    expect((await issue(TERMINAL)).status).toBe(201);

    // Written to Vault afterwards: in use on the next request, no restart, no negative caching.
    const second = `second-${randomBytes(8).toString('hex')}`;
    broker().secretsSeen.add(second);
    v.writeSecret('secret', `hyp/${SECOND_TERMINAL}`, { username: 'merchant-b', password: second });
    broker().sandbox.setTerminal(SECOND_TERMINAL, { user: 'merchant-b', password: second });
    expect((await issue(SECOND_TERMINAL)).status).toBe(201);
  });

  it('Vault sealed: cached terminals keep working up to the max staleness, uncached ones get 503 at once; readiness names it', async () => {
    const mapped = `mapped-${randomBytes(8).toString('hex')}`;
    broker().secretsSeen.add(mapped);
    v.writeSecret('secret', `merchants/${MAPPED_TERMINAL}`, { user: 'merchant-m', pass: mapped });
    broker().sandbox.setTerminal(MAPPED_TERMINAL, { user: 'merchant-m', password: mapped });
    await broker().app.get(SecretsProvider).refresh(`hyp/${TERMINAL}`);
    const cachedAt = Date.now();

    v.seal();
    const uncached = await issue(MAPPED_TERMINAL);
    expect(uncached.status).toBe(503);
    expect(uncached.body).toMatchObject({ code: 'dependency-unavailable', detail: 'The secret store is unavailable. Retry later.' });
    expect(uncached.headers['retry-after']).toBe('5');

    const readiness = await ready();
    expect(readiness.status).toBe(503);
    expect(readiness.body.details.secrets).toMatchObject({ status: 'down', provider: 'vault', message: 'Vault is sealed.' });
    expect(readiness.body.details.database.status).toBe('up');

    await sleep(TTL_MS + 200);
    expect((await issue(TERMINAL)).status).toBe(201); // stale, within the max staleness

    await sleep(Math.max(0, cachedAt + MAX_STALENESS_MS + 200 - Date.now()));
    const expired = await issue(TERMINAL);
    expect(expired.status).toBe(503);
    expect(expired.body.code).toBe('dependency-unavailable');

    v.unseal();
    expect((await issue(TERMINAL)).status).toBe(201);
    expect((await issue(MAPPED_TERMINAL)).status).toBe(201); // keys mapped by the credential reference
    expect((await ready()).body.details.secrets.status).toBe('up');
  });

  it('never puts a password, the audit key, the secret_id or a Vault token in a log line or audit row', async () => {
    for (const token of v.tokensIssued()) broker().secretsSeen.add(token);
    broker().secretsSeen.add(v.rootToken);
    expect(broker().logs.text).toContain('Vault approle token obtained');
    await broker().expectNoSecretsLeaked();
  });

  it('revokes its Vault token at shutdown', async () => {
    const revocations = v.stats.revocations;
    await broker().close();
    h = undefined;
    expect(v.stats.revocations).toBe(revocations + 1);
  });
});
