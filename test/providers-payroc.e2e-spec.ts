import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SecretsProvider } from '../src/secrets/secrets-provider';
import { BrokerHarness, PAYROC_PROCESSING_TERMINAL_ID, PAYROC_TERMINAL, reconfigureTerminal, TERMINAL, type TestDevice } from './support/broker-harness';

const LIB = '1.6.0.172441';
const SCOPE = { libVersion: LIB };
const POLICY = { allowUnscoped: false, allowed: [], providers: { payroc: { libVersions: [LIB, '1.2.0-beta.135020'] } } };
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Texts of the sandbox's error bodies that stand for Payroc internals. */
const PAYROC_INTERNALS = /pyrc-int-07|eu-west-int|Service offline|merchant 88123|does not support|unable to process|Idempotency-Key was already/;

describe('Payroc Hosted Fields sessions (Postgres + Payroc sandbox over HTTP)', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({
      // These tests fail the gateway on purpose many times; the breaker has its own tests.
      GATEWAY_BREAKER_THRESHOLD: '1000',
      DEVICE_RATE_LIMIT_PER_MINUTE: '100000',
      TERMINAL_RATE_LIMIT_PER_MINUTE: '1000000',
      REQUEST_DEADLINE_MS: '5000',
    });
  });
  afterEach(() => h.payroc.setFaults({}));
  afterAll(async () => {
    for (const token of h.payroc.issuedBearerTokens()) h.secretsSeen.add(token);
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  const device = (policy: object = POLICY, terminals = [PAYROC_TERMINAL]) => h.enrollDevice(policy as never, terminals);

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
  const issue = async (d: TestDevice, scope: unknown = SCOPE, headers: Record<string, string> = {}) =>
    noSecrets(
      await h.post(
        '/v1/sessions',
        { terminalNumber: PAYROC_TERMINAL, ...(scope === null ? {} : { scope }) },
        { authorization: `Bearer ${d.jwt()}`, ...headers },
      ),
    );

  it('issues a single-use Hosted Fields session token, audited, with a cached bearer token', async () => {
    const d = await device();
    const identityBefore = h.payroc.stats.identity;
    const res = await issue(d);
    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Object.keys(res.body).sort()).toEqual(['expiresAt', 'expiresIn', 'provider', 'requestId', 'reusable', 'scope', 'sessionId', 'terminalNumber']);
    expect(res.body).toMatchObject({ provider: 'payroc', reusable: false, terminalNumber: PAYROC_TERMINAL, scope: { libVersion: LIB, scenario: 'payment' } });
    expect(res.body.expiresIn).toBeGreaterThan(590);
    expect(res.body.expiresIn).toBeLessThanOrEqual(600);
    expect(Date.parse(String(res.body.expiresAt)) - Date.now()).toBeGreaterThan(580_000);
    expect(h.payroc.isLiveSession(String(res.body.sessionId))).toBe(true);

    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => [e.action, e.outcome])).toEqual([
      ['session.requested', 'pending'],
      ['session.issued', 'issued'],
    ]);
    expect(events[1]).toMatchObject({
      actor_id: d.deviceId,
      terminal_number: PAYROC_TERMINAL,
      gateway_result: '201',
      scope: { libVersion: LIB, scenario: 'payment' },
    });
    expect(events[1].details).toMatchObject({ provider: 'payroc', attempts: 1, expiresIn: res.body.expiresIn, reusable: false });
    expect(events[1].session_fingerprint).toBe(createHmac('sha256', h.fingerprintKey).update(String(res.body.sessionId)).digest('hex'));

    // The bearer token is reused until shortly before it expires.
    expect((await issue(d)).status).toBe(201);
    expect(h.payroc.stats.identity - identityBefore).toBeLessThanOrEqual(1);
    const identityNow = h.payroc.stats.identity;
    expect((await issue(d, { libVersion: LIB, scenario: 'payment' })).status).toBe(201);
    expect(h.payroc.stats.identity).toBe(identityNow);
  });

  it.each([
    ['no scope', null],
    ['an empty scope', {}],
    ['a malformed libVersion', { libVersion: '1.6<script>' }],
    ['an unknown scenario', { libVersion: LIB, scenario: 'refund' }],
    ['an unknown field', { libVersion: LIB, amount: 5 }],
    ['a Hyp scope', { command: 'doDeal' }],
  ])('refuses %s with 400 naming the field, before any outbound call', async (_n, scope) => {
    const d = await device();
    const before = { ...h.payroc.stats };
    const res = await issue(d, scope);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid-request');
    expect((res.body.errors as Array<{ path: string }>)[0].path).toMatch(/^scope/);
    expect([h.payroc.stats.identity, h.payroc.stats.sessions]).toEqual([before.identity, before.sessions]);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => [e.action, e.reason])).toEqual([['session.denied', 'scope-invalid']]);
  });

  it('checks the scope against the device policy for Payroc: no part means deny', async () => {
    const before = h.payroc.stats.sessions;
    const hypOnly = await device({ allowUnscoped: true, allowed: [{ command: 'doDeal' }] });
    const other = await device({ ...POLICY, providers: { payroc: { libVersions: ['1.2.0-beta.135020'] } } });
    for (const [d, scope] of [
      [hypOnly, SCOPE],
      [other, SCOPE],
      [await device(), { libVersion: LIB, scenario: 'tokenization' }],
    ] as const) {
      const res = await issue(d, scope);
      expect(res.status).toBe(403);
      const events = await h.auditEvents(String(res.body.requestId));
      expect(events.map((e) => [e.action, e.reason])).toEqual([['session.denied', 'scope-not-permitted']]);
    }
    expect(h.payroc.stats.sessions).toBe(before);
    const tokenizer = await device({ ...POLICY, providers: { payroc: { libVersions: [LIB], scenarios: ['tokenization'] } } });
    expect((await issue(tokenizer, { libVersion: LIB, scenario: 'tokenization' })).status).toBe(201);
  });

  it('retries a 5xx with the same UUID v4 Idempotency-Key, and a new device request uses a new key', async () => {
    const d = await device();
    await issue(d); // a bearer token is cached, so the counts below are the session endpoint's only
    h.payroc.setFaults({ on: 'sessions', failNext: 2 });
    const from = h.payroc.stats.idempotencyKeys.length;
    const res = await issue(d);
    expect(res.status).toBe(201);
    const keys = h.payroc.stats.idempotencyKeys.slice(from);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(UUID_V4);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events[1].details).toMatchObject({ attempts: 3 });

    expect((await issue(d)).status).toBe(201);
    const next = h.payroc.stats.idempotencyKeys.slice(from + 3);
    expect(next).toHaveLength(1);
    expect(next[0]).toMatch(UUID_V4);
    expect(next[0]).not.toBe(keys[0]);
  });

  it("reuses the gateway key across the device's own retries (same Idempotency-Key), so a failed call cannot mint a second session", async () => {
    const d = await device();
    await issue(d);
    h.payroc.setFaults({ on: 'sessions', http500: true });
    const from = h.payroc.stats.idempotencyKeys.length;
    const failed = await issue(d, SCOPE, { 'idempotency-key': 'pos-17-sale-0042' });
    expect(failed.status).toBe(503);
    expect(failed.body.code).toBe('gateway-unavailable');
    h.payroc.setFaults({});
    const retried = await issue(d, SCOPE, { 'idempotency-key': 'pos-17-sale-0042' });
    expect(retried.status).toBe(201);
    const keys = h.payroc.stats.idempotencyKeys.slice(from);
    expect(keys).toHaveLength(4); // three attempts of the first device request, one of the retry
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(UUID_V4);
  });

  it('answers 50 concurrent requests after the bearer token was revoked with exactly one Identity Service call', async () => {
    const devices = await Promise.all(Array.from({ length: 5 }, () => device()));
    await issue(devices[0]);
    h.payroc.expireTokens();
    const before = h.payroc.stats.identity;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => issue(devices[i % devices.length])));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(201));
    expect(h.payroc.stats.identity - before).toBe(1);
    expect(new Set(results.map((r) => r.body.sessionId)).size).toBe(50);
  }, 60_000);

  it('refreshes a bearer token shortly before it expires, once for 50 concurrent requests', async () => {
    const devices = await Promise.all(Array.from({ length: 5 }, () => device()));
    h.payroc.setTokenTtl(2);
    try {
      h.payroc.expireTokens();
      expect((await issue(devices[0])).status).toBe(201); // caches a 2 s token, used for 1 s
      const cached = h.payroc.stats.identity;
      expect((await issue(devices[1])).status).toBe(201);
      expect(h.payroc.stats.identity).toBe(cached);
      await sleep(1_200);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => issue(devices[i % devices.length])));
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(201));
      expect(h.payroc.stats.identity - cached).toBe(1);
    } finally {
      h.payroc.setTokenTtl(3600);
      h.payroc.expireTokens();
    }
  }, 60_000);

  it.each([
    ['bad-request', 502, 'gateway-error', '400'],
    ['forbidden', 502, 'gateway-terminal-not-enabled', '403'],
    ['not-found', 502, 'gateway-terminal-not-enabled', '404'],
    ['conflict', 502, 'gateway-error', '409'],
  ] as const)('maps the documented %s error to %i %s, audited, without Payroc’s wording', async (name, status, code, result) => {
    const d = await device();
    h.payroc.setFaults({ forceError: name });
    const res = await issue(d);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status, code, gatewayResult: result });
    expect(res.body.sessionId).toBeUndefined();
    expect(res.text).not.toMatch(PAYROC_INTERNALS);
    expect(res.text).not.toContain('docs.payroc.com');
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => [e.action, e.outcome, e.reason, e.gateway_result])).toEqual([
      ['session.requested', 'pending', null, null],
      ['session.failed', 'failed', code, result],
    ]);
  });

  it('maps a real capabilities-missing answer (a terminal without Hosted Fields) to gateway-terminal-not-enabled', async () => {
    await reconfigureTerminal(h, PAYROC_TERMINAL, 'payroc', { processingTerminalId: '1234002', identityUrl: h.payroc.identityUrl });
    try {
      const res = await issue(await device());
      expect(res.body).toMatchObject({ status: 502, code: 'gateway-terminal-not-enabled', gatewayResult: '400' });
      expect(res.body.detail).toContain('capabilities-missing');
      expect(res.text).not.toMatch(PAYROC_INTERNALS);
    } finally {
      await reconfigureTerminal(h, PAYROC_TERMINAL, 'payroc', { processingTerminalId: PAYROC_PROCESSING_TERMINAL_ID, identityUrl: h.payroc.identityUrl });
    }
  });

  it('retries a 429 within the deadline, then answers 503 gateway-rate-limited with Retry-After', async () => {
    const d = await device();
    await issue(d);
    h.payroc.setFaults({ forceError: 'too-many-requests' });
    const before = h.payroc.stats.sessions;
    const res = await issue(d);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body).toMatchObject({ code: 'gateway-rate-limited', gatewayResult: '429' });
    expect(h.payroc.stats.sessions - before).toBe(3);
    expect(res.text).not.toMatch(PAYROC_INTERNALS);
  });

  it('takes a 401 on the session endpoint as an early expiry: one fresh token, then merchant-auth-failed', async () => {
    const d = await device();
    await issue(d);
    h.payroc.setFaults({ forceError: 'unauthorized' });
    const identity = h.payroc.stats.identity;
    const res = await issue(d);
    expect(res.body).toMatchObject({ status: 502, code: 'gateway-merchant-auth-failed', gatewayResult: '401' });
    expect(h.payroc.stats.identity - identity).toBe(1);
    expect(res.text).not.toMatch(PAYROC_INTERNALS);
  });

  it('answers 502 when the Identity Service refuses the API key, and picks up a rotated key without restart', async () => {
    const d = await device();
    const secrets = h.app.get(SecretsProvider);
    const good = h.providerSecrets.payroc.apiKey;
    h.payroc.expireTokens();
    try {
      h.providerSecrets.payroc.apiKey = 'pk-revoked-0000';
      h.writeSecrets(h.password);
      await secrets.refresh(`payroc/${PAYROC_TERMINAL}`);
      const refused = await issue(d);
      expect(refused.body).toMatchObject({ status: 502, code: 'gateway-merchant-auth-failed', gatewayResult: '401' });
      expect(refused.text).not.toContain('pk-revoked-0000');

      // The store now has the right key, the broker still the revoked one: it reads again, once.
      h.providerSecrets.payroc.apiKey = good;
      h.writeSecrets(h.password);
      const identity = h.payroc.stats.identity;
      const res = await issue(d);
      expect(res.status).toBe(201);
      expect(h.payroc.stats.identity - identity).toBe(2);
    } finally {
      h.providerSecrets.payroc.apiKey = good;
      h.writeSecrets(h.password);
      await secrets.refresh(`payroc/${PAYROC_TERMINAL}`);
    }
  });

  it('answers 503 for HTTP 500 (retried) and dropped connections, 502 for malformed bodies, 504 for a stall', async () => {
    const d = await device();
    await issue(d);
    h.payroc.setFaults({ http500: true });
    const before = h.payroc.stats.sessions;
    const five = await issue(d);
    expect(five.status).toBe(503);
    expect(five.body.code).toBe('gateway-unavailable');
    expect(h.payroc.stats.sessions - before).toBe(3);
    expect(five.text).not.toMatch(PAYROC_INTERNALS);

    h.payroc.setFaults({ dropConnection: true });
    expect((await issue(d)).status).toBe(503);

    h.payroc.setFaults({ on: 'sessions', malformedBody: true });
    const malformed = await issue(d);
    expect(malformed.status).toBe(502);
    expect(malformed.body.code).toBe('gateway-bad-response');

    h.payroc.expireTokens();
    h.payroc.setFaults({ on: 'identity', malformedBody: true });
    expect((await issue(d)).body.code).toBe('gateway-bad-response');

    h.payroc.setFaults({ latencyMs: 30_000 });
    const started = Date.now();
    const stalled = await issue(d);
    expect(stalled.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(5_000 + 2_000);
    for (const r of [five, malformed, stalled]) {
      const events = await h.auditEvents(String(r.body.requestId));
      expect(events.map((e) => e.action)).toEqual(['session.requested', 'session.failed']);
    }
  }, 30_000);

  it('refuses to close a Payroc session: it expires by itself', async () => {
    const d = await device();
    const issued = await issue(d);
    const res = await h.send('DELETE', `/v1/sessions/${String(issued.body.sessionId)}`, undefined, { authorization: `Bearer ${d.jwt()}` });
    expect(res.status).toBe(409);
    expect(res.text).not.toContain(String(issued.body.sessionId));
  });

  it('keeps Hyp terminals working beside Payroc ones for a device bound to both', async () => {
    const d = await device({ ...POLICY, allowed: [{ command: 'doDeal' }] }, [TERMINAL, PAYROC_TERMINAL]);
    const hyp = await h.issue(d, { terminalNumber: TERMINAL, scope: { command: 'doDeal' } });
    expect(hyp.body).toMatchObject({ provider: 'hyp', scope: { command: 'doDeal' } });
    expect((await issue(d)).body).toMatchObject({ provider: 'payroc' });
  });
});
