import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { walletSignature } from '../src/gateways/wallet/wallet-signature';
import { SecretsProvider } from '../src/secrets/secrets-provider';
import { BrokerHarness, PARENT_SYSTEM_ID, PAYROC_TERMINAL, TERMINAL, WALLET_IDS, WALLET_TERMINAL, type TestDevice } from './support/broker-harness';

const WALLET = WALLET_IDS[0];
const POLICY = { allowUnscoped: false, allowed: [], providers: { wallet: { walletIds: [...WALLET_IDS, 'blocked-1'] } } };
/** Texts of the sandbox's error bodies that stand for the wallet's internals. */
const INTERNALS = /wal-02|db timeout|operator key v3|risk rule 17|INVALID_TOKEN|SIGNATURE_FAILED|Invalid authentication token/;

describe('Signed wallet sessions (Postgres + wallet sandbox over HTTP)', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ GATEWAY_BREAKER_THRESHOLD: '1000', DEVICE_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterEach(() => h.wallet.setFaults({}));
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  const device = (policy: object = POLICY, terminals = [WALLET_TERMINAL]) => h.enrollDevice(policy as never, terminals);

  /** No answer, error or not, carries a merchant secret. */
  const noSecrets = <T extends { text: string }>(res: T): T => {
    const ps = h.providerSecrets;
    for (const secret of [
      ps.payroc.apiKey,
      ps.embedded.gatewayApiKey,
      ps.embedded.merchantCentralApiKey,
      ps.wallet.authToken,
      ps.wallet.signingKey,
      h.password,
    ]) {
      expect(res.text).not.toContain(secret);
    }
    return res;
  };
  /** `scope: null` sends none. */
  const issue = async (d: TestDevice, scope: unknown = { walletId: WALLET }) =>
    noSecrets(await h.post('/v1/sessions', { terminalNumber: WALLET_TERMINAL, ...(scope === null ? {} : { scope }) }, { authorization: `Bearer ${d.jwt()}` }));
  const close = async (d: TestDevice, sessionId: string) =>
    noSecrets(await h.send('DELETE', `/v1/sessions/${encodeURIComponent(sessionId)}`, undefined, { authorization: `Bearer ${d.jwt()}` }));
  const closeEvents = (requestId: unknown) => h.auditEvents(String(requestId));

  it('computes the seed’s signature vector', () => {
    expect(walletSignature('walletId=2sdflsd', 'Ax34deSfgdB')).toBe('8F0F3379F1C6CC24DF5A4DC2A937061102487C46');
  });

  it('opens a session that stays open until closed: expiresAt null, signed request, audited', async () => {
    const d = await device();
    const from = h.wallet.stats.signatures.length;
    const res = await issue(d);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      provider: 'wallet',
      expiresAt: null,
      expiresIn: null,
      reusable: true,
      terminalNumber: WALLET_TERMINAL,
      scope: { walletId: WALLET },
    });
    expect(h.wallet.sessionStatus(String(res.body.sessionId))).toBe('OPEN');
    // The wallet received SHA-1(query string + secret key), upper-case hex.
    expect(h.wallet.stats.signatures.slice(from)).toEqual([walletSignature(`walletId=${WALLET}`, h.providerSecrets.wallet.signingKey)]);
    expect(h.wallet.stats.signatures[from]).toMatch(/^[0-9A-F]{40}$/);

    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => e.action)).toEqual(['session.requested', 'session.issued']);
    expect(events[1]).toMatchObject({ actor_id: d.deviceId, gateway_result: '200', scope: { walletId: WALLET } });
    expect(events[1].details).toMatchObject({ provider: 'wallet', expiresIn: null, reusable: true });
    expect(events[1].session_fingerprint).toBe(createHmac('sha256', h.fingerprintKey).update(String(res.body.sessionId)).digest('hex'));
  });

  it('lets the owner close it (forwarded, signed, audited); closing twice is not an error', async () => {
    const d = await device();
    const issued = await issue(d);
    const sessionId = String(issued.body.sessionId);
    const closes = h.wallet.stats.closes;
    const from = h.wallet.stats.signatures.length;

    const first = await close(d, sessionId);
    expect(first.status).toBe(204);
    expect(first.text).toBe('');
    expect(h.wallet.sessionStatus(sessionId)).toBe('CLOSE');
    expect(h.wallet.stats.closes - closes).toBe(1);
    expect(h.wallet.stats.signatures.slice(from)).toEqual([walletSignature(`id=${sessionId}`, h.providerSecrets.wallet.signingKey)]);
    const fingerprint = createHmac('sha256', h.fingerprintKey).update(sessionId).digest('hex');
    const events = await closeEvents(first.headers['x-request-id']);
    expect(events.map((e) => [e.action, e.outcome])).toEqual([
      ['session.close_requested', 'pending'],
      ['session.closed', 'success'],
    ]);
    expect(events[1]).toMatchObject({ actor_id: d.deviceId, terminal_number: WALLET_TERMINAL, session_fingerprint: fingerprint });

    const again = await close(d, sessionId);
    expect(again.status).toBe(204);
    expect(h.wallet.stats.closes - closes).toBe(1); // known closed from the audit trail: no second call
    const repeat = await closeEvents(again.headers['x-request-id']);
    expect(repeat.map((e) => [e.action, e.outcome])).toEqual([['session.closed', 'success']]);
    expect(repeat[0].details).toMatchObject({ alreadyClosed: true });
    // The sessionId in the DELETE path never reaches the request log.
    expect(h.logs.text).toContain('/v1/sessions/[redacted]');
    expect(h.logs.text).not.toContain(sessionId);
  });

  it('treats the wallet’s "invalid wallet session" as already closed (closed on the wallet’s side)', async () => {
    const d = await device();
    const sessionId = String((await issue(d)).body.sessionId);
    // The operator closes it itself (GPAS's own Close call).
    const query = `id=${sessionId}`;
    const direct = await request(`${h.walletUrl}/sessions/close?${query}`, {
      method: 'PATCH',
      headers: { 'x-parent-system-id': PARENT_SYSTEM_ID, 'x-signature': walletSignature(query, h.providerSecrets.wallet.signingKey) },
    });
    await direct.body.dump();
    expect(direct.statusCode).toBe(200);
    expect((await close(d, sessionId)).status).toBe(204);
  });

  it('refuses to close another device’s session, and an unknown one, without calling the wallet', async () => {
    const owner = await device();
    const other = await device();
    const sessionId = String((await issue(owner)).body.sessionId);
    const closes = h.wallet.stats.closes;

    const refused = await close(other, sessionId);
    expect(refused.status).toBe(403);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.text).not.toContain(sessionId);
    expect(h.wallet.sessionStatus(sessionId)).toBe('OPEN');
    const events = await closeEvents(refused.body.requestId);
    expect(events.map((e) => [e.action, e.outcome, e.reason, e.actor_id])).toEqual([['session.close_denied', 'denied', 'session-not-owned', other.deviceId]]);

    const unknown = await close(owner, '3fa85f64-5717-4562-b3fc-2c963f66afa6');
    expect(unknown.status).toBe(404);
    expect((await closeEvents(unknown.body.requestId)).map((e) => e.reason)).toEqual(['session-unknown']);
    expect(h.wallet.stats.closes).toBe(closes);

    // Still the owner's to close.
    expect((await close(owner, sessionId)).status).toBe(204);
  });

  it('answers 503 when the wallet fails the close, audits it, and closes on the next try', async () => {
    const d = await device();
    const sessionId = String((await issue(d)).body.sessionId);
    h.wallet.setFaults({ on: 'close', forceError: 'SYSTEM_ERROR' });
    const failed = await close(d, sessionId);
    expect(failed.status).toBe(503);
    expect(failed.body.code).toBe('gateway-unavailable');
    expect(failed.text).not.toMatch(INTERNALS);
    expect((await closeEvents(failed.body.requestId)).map((e) => e.action)).toEqual(['session.close_requested', 'session.close_failed']);
    h.wallet.setFaults({});
    expect((await close(d, sessionId)).status).toBe(204);
    expect(h.wallet.sessionStatus(sessionId)).toBe('CLOSE');
  });

  it('refuses to close sessions of providers whose sessions expire by themselves (Hyp)', async () => {
    const d = await device({ ...POLICY, allowed: [{ command: 'doDeal' }] }, [TERMINAL, WALLET_TERMINAL]);
    const hyp = await h.issue(d, { terminalNumber: TERMINAL, scope: { command: 'doDeal' } });
    const res = await close(d, String(hyp.body.sessionId));
    expect(res.status).toBe(409);
    expect((await closeEvents(res.body.requestId)).map((e) => e.reason)).toEqual(['not-closable']);
  });

  it.each([
    ['no scope', null, 400, 'scope-invalid'],
    ['a wallet id with query metacharacters', { walletId: '2sdflsd&walletId=other' }, 400, 'scope-invalid'],
    ['an unknown field', { walletId: WALLET, amount: 1 }, 400, 'scope-invalid'],
    ['a wallet outside the device policy', { walletId: 'w-0002' }, 403, 'scope-not-permitted'],
    ['a wallet the terminal does not serve', { walletId: 'w-9999' }, 403, 'scope-not-offered'],
  ])('refuses %s before any outbound call', async (_n, scope, status, reason) => {
    const d = await device({ ...POLICY, providers: { wallet: { walletIds: [WALLET, 'w-9999'] } } });
    const before = h.wallet.stats.sessions;
    const res = await issue(d, scope);
    expect(res.status).toBe(status);
    expect(h.wallet.stats.sessions).toBe(before);
    expect((await h.auditEvents(String(res.body.requestId))).map((e) => [e.action, e.reason])).toEqual([['session.denied', reason]]);
  });

  it.each([
    ['INVALID_WALLET_ID', 502, 'gateway-error', '1005'],
    ['USER_BLOCKED', 502, 'gateway-error', '1008'],
    ['SIGNATURE_FAILED', 502, 'gateway-merchant-auth-failed', '1006'],
    ['INVALID_TOKEN', 502, 'gateway-merchant-auth-failed', '1010'],
  ] as const)('maps the documented %s error to %i %s without the wallet’s wording', async (name, status, code, result) => {
    h.wallet.setFaults({ on: 'sessions', forceError: name });
    const res = await issue(await device());
    expect(res.body).toMatchObject({ status, code, gatewayResult: result });
    expect(res.text).not.toMatch(INTERNALS);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => [e.action, e.reason, e.gateway_result])).toEqual([
      ['session.requested', null, null],
      ['session.failed', code, result],
    ]);
  });

  it('gets a real USER_BLOCKED for a blocked wallet', async () => {
    const res = await issue(await device(), { walletId: 'blocked-1' });
    expect(res.body).toMatchObject({ status: 502, code: 'gateway-error', gatewayResult: '1008' });
    expect(res.body.detail).toContain('user blocked');
  });

  it.each([
    ['SYSTEM_ERROR (HTTP 500)', { on: 'sessions', forceError: 'SYSTEM_ERROR' }],
    ['an HTTP 503', { on: 'sessions', failNext: 1 }],
  ] as const)('does not resend a session request the wallet answered with %s (it may have opened one)', async (_n, faults) => {
    const d = await device();
    h.wallet.setFaults(faults);
    const before = h.wallet.stats.sessions;
    const res = await issue(d);
    expect(res.body).toMatchObject({ status: 503, code: 'gateway-unavailable' });
    expect(res.text).not.toMatch(INTERNALS);
    expect(h.wallet.stats.sessions - before).toBe(1);
    expect((await h.auditEvents(String(res.body.requestId)))[1].details).toMatchObject({ attempts: 1 });
    h.wallet.setFaults({});
    expect((await issue(d)).status).toBe(201);
  });

  it('answers 502 for malformed bodies, 503 for dropped connections, 504 for a stall', async () => {
    const d = await device();
    h.wallet.setFaults({ malformedBody: true });
    expect((await issue(d)).body).toMatchObject({ status: 502, code: 'gateway-bad-response' });
    h.wallet.setFaults({ dropConnection: true });
    expect((await issue(d)).status).toBe(503);
    h.wallet.setFaults({ latencyMs: 30_000 });
    expect((await issue(d)).body).toMatchObject({ status: 504, code: 'gateway-timeout' });
  }, 20_000);

  it('picks up a replaced auth token or signing key from the secret store without restart', async () => {
    const d = await device();
    const secrets = h.app.get(SecretsProvider);
    const ref = `wallet/${WALLET_TERMINAL}`;
    const original = { ...h.providerSecrets.wallet };
    const newToken = `at-rotated-${Date.now()}`;
    h.secretsSeen.add(newToken);
    try {
      // The operator's auth token expired: refused until the store has the new one.
      h.wallet.revokeAuthTokens([newToken]);
      const refused = await issue(d);
      expect(refused.body).toMatchObject({ status: 502, code: 'gateway-merchant-auth-failed', gatewayResult: '1010' });
      h.providerSecrets.wallet.authToken = newToken;
      h.writeSecrets(h.password);
      const before = h.wallet.stats.sessions;
      expect((await issue(d)).status).toBe(201);
      expect(h.wallet.stats.sessions - before).toBe(2);

      // A wrong signing key in the store: the wallet refuses the signature.
      h.providerSecrets.wallet.signingKey = 'sk-wrong';
      h.writeSecrets(h.password);
      await secrets.refresh(ref);
      expect((await issue(d)).body).toMatchObject({ status: 502, code: 'gateway-merchant-auth-failed', gatewayResult: '1006' });
    } finally {
      h.wallet.revokeAuthTokens([original.authToken]);
      Object.assign(h.providerSecrets.wallet, original);
      h.writeSecrets(h.password);
      await secrets.refresh(ref);
    }
    expect((await issue(d)).status).toBe(201);
  });

  it('keeps Payroc and wallet terminals apart for a device bound to both', async () => {
    const d = await device({ ...POLICY, providers: { ...POLICY.providers, payroc: { libVersions: ['1.6.0.172441'] } } }, [WALLET_TERMINAL, PAYROC_TERMINAL]);
    const wrong = await h.post('/v1/sessions', { terminalNumber: PAYROC_TERMINAL, scope: { walletId: WALLET } }, { authorization: `Bearer ${d.jwt()}` });
    expect(wrong.status).toBe(400);
    expect((await issue(d)).status).toBe(201);
  });
});
