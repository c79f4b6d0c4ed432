import { createHmac } from 'node:crypto';
import { SecretsProvider } from '../src/secrets/secrets-provider';
import { BrokerHarness, EMBEDDED_TERMINAL, reconfigureTerminal, type TestDevice } from './support/broker-harness';

const BOTH = { allowUnscoped: false, allowed: [], providers: { 'embedded-components': { gateway: true, 'merchant-central': true } } };
/** Texts of the sandbox's error bodies that stand for Reporting API internals. */
const INTERNALS = /rpt-api-3|90417|reporting-api-7f9c|rpt\.sessions\.create|validation_error|authentication_error|permission_error/;

describe('Embedded-component sessions (Postgres + Reporting API sandbox over HTTP)', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ GATEWAY_BREAKER_THRESHOLD: '1000', DEVICE_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterEach(() => h.embedded.setFaults({}));
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  const device = (policy: object = BOTH) => h.enrollDevice(policy as never, [EMBEDDED_TERMINAL]);

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
  const issue = async (d: TestDevice, scope: unknown = { gateway: true }) =>
    noSecrets(
      await h.post('/v1/sessions', { terminalNumber: EMBEDDED_TERMINAL, ...(scope === null ? {} : { scope }) }, { authorization: `Bearer ${d.jwt()}` }),
    );

  it.each([
    [{ gateway: true }, 'gateway'],
    [{ 'merchant-central': true }, 'merchant-central'],
  ] as const)('creates a 15-minute session_token for %j with that account’s secret key, audited', async (scope, account) => {
    const d = await device();
    const res = await issue(d, scope);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ provider: 'embedded-components', expiresIn: 900, reusable: true, terminalNumber: EMBEDDED_TERMINAL, scope });
    expect(Date.parse(String(res.body.expiresAt)) - Date.now()).toBeGreaterThan(890_000);
    expect(h.embedded.sessionAccount(String(res.body.sessionId))).toBe(account);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => e.action)).toEqual(['session.requested', 'session.issued']);
    expect(events[1]).toMatchObject({
      actor_id: d.deviceId,
      gateway_result: '200',
      scope,
      details: expect.objectContaining({ provider: 'embedded-components' }),
    });
    expect(events[1].session_fingerprint).toBe(createHmac('sha256', h.fingerprintKey).update(String(res.body.sessionId)).digest('hex'));
  });

  it.each([
    ['both', { gateway: true, 'merchant-central': true }],
    ['neither (empty scope)', {}],
    ['neither (no scope)', null],
    ['gateway: false', { gateway: false }],
    ['an unknown account', { reporting: true }],
  ])('refuses %s with 400 before any outbound call', async (_n, scope) => {
    const d = await device();
    const before = h.embedded.stats.sessions;
    const res = await issue(d, scope);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid-request');
    expect(JSON.stringify(res.body.errors)).toMatch(/scope/);
    expect(h.embedded.stats.sessions).toBe(before);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => [e.action, e.reason])).toEqual([['session.denied', 'scope-invalid']]);
  });

  it('issues a new, separately audited token on every ask before expiry (rotation)', async () => {
    const d = await device();
    const first = await issue(d);
    const second = await issue(d);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.sessionId).not.toBe(first.body.sessionId);
    expect(h.embedded.sessionAccount(String(first.body.sessionId))).toBe('gateway');
    expect(h.embedded.sessionAccount(String(second.body.sessionId))).toBe('gateway');
    const fingerprints = await h.db.query<{ session_fingerprint: string }>(
      `SELECT session_fingerprint FROM audit_event WHERE action = 'session.issued' AND request_id = ANY($1)`,
      [[first.body.requestId, second.body.requestId]],
    );
    expect(new Set(fingerprints.map((f) => f.session_fingerprint)).size).toBe(2);
  });

  it('checks the account against the device policy and the terminal configuration', async () => {
    const before = h.embedded.stats.sessions;
    const gatewayOnly = await device({ ...BOTH, providers: { 'embedded-components': { gateway: true } } });
    const none = await device({ allowUnscoped: true, allowed: [] });
    const denied = [await issue(gatewayOnly, { 'merchant-central': true }), await issue(none)];
    for (const res of denied) {
      expect(res.status).toBe(403);
      const events = await h.auditEvents(String(res.body.requestId));
      expect(events.map((e) => e.reason)).toEqual(['scope-not-permitted']);
    }
    await reconfigureTerminal(h, EMBEDDED_TERMINAL, 'embedded-components', { apis: ['gateway'] });
    try {
      const res = await issue(await device(), { 'merchant-central': true });
      expect(res.status).toBe(403);
      expect((await h.auditEvents(String(res.body.requestId))).map((e) => e.reason)).toEqual(['scope-not-offered']);
    } finally {
      await reconfigureTerminal(h, EMBEDDED_TERMINAL, 'embedded-components', { apis: ['gateway', 'merchant-central'] });
    }
    expect(h.embedded.stats.sessions).toBe(before);
  });

  it.each([
    ['validation', 502, 'gateway-error', '400'],
    ['unauthorized', 502, 'gateway-merchant-auth-failed', '401'],
    ['forbidden', 502, 'gateway-terminal-not-enabled', '403'],
  ] as const)('maps the %s error body to %i %s without the Reporting API’s wording', async (name, status, code, result) => {
    h.embedded.setFaults({ forceError: name });
    const res = await issue(await device());
    expect(res.body).toMatchObject({ status, code, gatewayResult: result });
    expect(res.text).not.toMatch(INTERNALS);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => [e.action, e.reason, e.gateway_result])).toEqual([
      ['session.requested', null, null],
      ['session.failed', code, result],
    ]);
  });

  it('retries 429 and 5xx within the deadline; answers 502 for malformed bodies and 503 for dropped connections', async () => {
    const d = await device();
    h.embedded.setFaults({ forceError: 'rate-limited' });
    let before = h.embedded.stats.sessions;
    const limited = await issue(d);
    expect(limited.body).toMatchObject({ status: 503, code: 'gateway-rate-limited', gatewayResult: '429' });
    expect(h.embedded.stats.sessions - before).toBe(3);

    h.embedded.setFaults({ failNext: 2 });
    before = h.embedded.stats.sessions;
    const recovered = await issue(d);
    expect(recovered.status).toBe(201);
    expect(h.embedded.stats.sessions - before).toBe(3);
    expect((await h.auditEvents(String(recovered.body.requestId)))[1].details).toMatchObject({ attempts: 3 });

    h.embedded.setFaults({ http500: true });
    const five = await issue(d);
    expect(five.body).toMatchObject({ status: 503, code: 'gateway-unavailable' });
    expect(five.text).not.toMatch(INTERNALS);

    h.embedded.setFaults({ malformedBody: true });
    expect((await issue(d)).body).toMatchObject({ status: 502, code: 'gateway-bad-response' });

    h.embedded.setFaults({ dropConnection: true });
    expect((await issue(d)).status).toBe(503);

    h.embedded.setFaults({ latencyMs: 30_000 });
    expect((await issue(d)).body).toMatchObject({ status: 504, code: 'gateway-timeout' });
  }, 20_000);

  it('picks up a rotated API key from the secret store without restart', async () => {
    const d = await device();
    const secrets = h.app.get(SecretsProvider);
    const old = h.providerSecrets.embedded.gatewayApiKey;
    const rotated = `gk-rotated-${Date.now()}`;
    h.secretsSeen.add(rotated);
    h.embedded.setKeys([
      { apiKey: rotated, account: 'gateway' },
      { apiKey: h.providerSecrets.embedded.merchantCentralApiKey, account: 'merchant-central' },
    ]);
    try {
      const refused = await issue(d);
      expect(refused.body).toMatchObject({ status: 502, code: 'gateway-merchant-auth-failed' });
      h.providerSecrets.embedded.gatewayApiKey = rotated;
      h.writeSecrets(h.password);
      const before = h.embedded.stats.sessions;
      const res = await issue(d);
      expect(res.status).toBe(201);
      expect(h.embedded.stats.sessions - before).toBe(2); // refused with the cached key, then the fresh one
    } finally {
      h.providerSecrets.embedded.gatewayApiKey = old;
      h.writeSecrets(h.password);
      h.embedded.setKeys([
        { apiKey: old, account: 'gateway' },
        { apiKey: h.providerSecrets.embedded.merchantCentralApiKey, account: 'merchant-central' },
      ]);
      await secrets.refresh(`embedded-components/${EMBEDDED_TERMINAL}`);
    }
  });

  it('refuses to close an embedded-component session: it expires by itself', async () => {
    const d = await device();
    const issued = await issue(d);
    const res = await h.send('DELETE', `/v1/sessions/${encodeURIComponent(String(issued.body.sessionId))}`, undefined, { authorization: `Bearer ${d.jwt()}` });
    expect(res.status).toBe(409);
  });
});
