import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { buildDoDealRequest, parseHypResponse } from '../src/gateways/hyp/hyp-xml';
import { SecretsProvider } from '../src/secrets/secrets-provider';
import { TerminalDirectory } from '../src/terminals/terminal-directory';
import { BrokerHarness, NO_SESSIONS_TERMINAL, SECOND_TERMINAL, TERMINAL } from './support/broker-harness';

const DEAL = { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' };

describe('POST /v1/sessions (Postgres + Hyp sandbox over HTTP)', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    // These tests fail the gateway on purpose many times in a row; the breaker has its own tests.
    h = await BrokerHarness.start({ GATEWAY_BREAKER_THRESHOLD: '1000' });
  });
  afterEach(() => h.sandbox.setFaults({}));
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  async function payWith(sessionId: string, validation = 'AutoComm', transactionType = 'Credit') {
    const res = await request(h.sandboxUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        sessionId,
        int_in: buildDoDealRequest({ terminalNumber: TERMINAL, validation, transactionType, total: '100', cardNo: '4580000000000000', cardExpiration: '1230' }),
      }).toString(),
    });
    return parseHypResponse(await res.body.text());
  }

  it('issues a scoped sessionId, records attempt and issuance, and the session works once on the sandbox', async () => {
    const device = await h.enrollDevice();
    const res = await h.issue(device, { terminalNumber: TERMINAL, scope: { command: 'dodeal', validation: 'autoComm', transactionType: 'credit' } });

    expect(res.status).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Object.keys(res.body).sort()).toEqual(
      ['expiresAt', 'expiresIn', 'provider', 'requestId', 'reusable', 'scope', 'sessionId', 'terminalNumber'].sort(),
    );
    expect(res.body.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body).toMatchObject({ expiresIn: 600, reusable: false, provider: 'hyp', terminalNumber: TERMINAL, scope: DEAL });
    expect(Date.parse(String(res.body.expiresAt)) - Date.now()).toBeGreaterThan(590_000);
    expect(res.body.requestId).toBe(res.headers['x-request-id']);

    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => [e.action, e.outcome])).toEqual([
      ['session.requested', 'pending'],
      ['session.issued', 'issued'],
    ]);
    const issued = events[1];
    expect(issued).toMatchObject({
      actor_id: device.deviceId,
      terminal_number: TERMINAL,
      scope: DEAL,
      gateway_result: '000',
      user_agent: 'jest-pos/1.0',
      client_ip: '127.0.0.1',
    });
    expect(issued.gateway_tran_id).toMatch(/^\d+$/);
    expect(issued.latency_ms).toBeGreaterThanOrEqual(0);
    const expected = createHmac('sha256', h.fingerprintKey).update(String(res.body.sessionId)).digest('hex');
    expect(issued.session_fingerprint).toBe(expected);

    // The scope was sent to the gateway: the sandbox enforces it, and single use.
    expect((await payWith(String(res.body.sessionId), 'Verify')).result).toBe('444');
    expect((await payWith(String(res.body.sessionId))).result).toBe('000');
    expect((await payWith(String(res.body.sessionId))).result).toBe('456');
  });

  it('takes the terminal from a single binding, and requires it when the device has several', async () => {
    const single = await h.enrollDevice();
    const ok = await h.issue(single, { scope: DEAL });
    expect(ok.status).toBe(201);
    expect(ok.body.terminalNumber).toBe(TERMINAL);

    const multi = await h.enrollDevice(undefined, [TERMINAL, SECOND_TERMINAL]);
    const ambiguous = await h.issue(multi, { scope: DEAL });
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.headers['content-type']).toContain('application/problem+json');
    const events = await h.auditEvents(String(ambiguous.body.requestId));
    expect(events.map((e) => [e.action, e.reason])).toEqual([['session.denied', 'terminal-ambiguous']]);
    expect((await h.issue(multi, { terminalNumber: SECOND_TERMINAL, scope: DEAL })).status).toBe(201);
  });

  it('refuses a scope outside the policy, and an unscoped session unless the policy allows it, without calling the gateway', async () => {
    const device = await h.enrollDevice();
    const before = h.sandbox.stats.getSessionId;
    for (const scope of [{ command: 'refundDeal' }, { command: 'doDeal' }, { command: 'doDeal', validation: 'Verify', transactionType: 'Credit' }, undefined]) {
      const res = await h.issue(device, scope ? { terminalNumber: TERMINAL, scope } : { terminalNumber: TERMINAL });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ status: 403, code: 'forbidden' });
      const events = await h.auditEvents(String(res.body.requestId));
      expect(events.map((e) => [e.action, e.outcome, e.reason])).toEqual([['session.denied', 'denied', 'scope-not-permitted']]);
    }
    expect(h.sandbox.stats.getSessionId).toBe(before);

    const open = await h.enrollDevice({ allowUnscoped: true, allowed: [{ command: 'doDeal' }] });
    const unscoped = await h.issue(open, { terminalNumber: TERMINAL });
    expect(unscoped.status).toBe(201);
    expect(unscoped.body.scope).toBeNull();
    // A rule without validation/transactionType allows any of them.
    expect((await h.issue(open, { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'Verify' } })).status).toBe(201);
  });

  it('refuses a terminal the device is not bound to', async () => {
    const device = await h.enrollDevice();
    const res = await h.issue(device, { terminalNumber: SECOND_TERMINAL, scope: DEAL });
    expect(res.status).toBe(403);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events[0]).toMatchObject({ action: 'session.denied', reason: 'terminal-not-bound', terminal_number: SECOND_TERMINAL });
  });

  it.each([
    ['405', 502, 'gateway-merchant-auth-failed'],
    ['455', 502, 'gateway-terminal-not-enabled'],
    ['456', 502, 'gateway-session-timeout'],
    ['303', 502, 'gateway-error'],
    ['308', 502, 'gateway-error'],
    ['354', 502, 'gateway-error'],
    ['444', 502, 'gateway-error'],
  ])('maps gateway result %s to %i %s, audited as failed, nothing from the gateway leaking', async (code, status, problem) => {
    const device = await h.enrollDevice();
    h.sandbox.setFaults({ forceResult: code });
    const res = await h.issue(device);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status, code: problem, gatewayResult: code });
    expect(res.body.sessionId).toBeUndefined();
    expect(res.text).not.toMatch(/SSL HTTPS|System Administration|Merchant authentication error|Gateway general error|tranId/);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => [e.action, e.outcome, e.gateway_result])).toEqual([
      ['session.requested', 'pending', null],
      ['session.failed', 'failed', code],
    ]);
  });

  it('gets a real 405 when the stored password is wrong, and a real 455 from a terminal without sessions', async () => {
    const device = await h.enrollDevice(undefined, [TERMINAL, NO_SESSIONS_TERMINAL]);
    const notEnabled = await h.issue(device, { terminalNumber: NO_SESSIONS_TERMINAL, scope: DEAL });
    expect(notEnabled.body).toMatchObject({ status: 502, gatewayResult: '455' });

    h.sandbox.setTerminal(TERMINAL, { user: 'merchant-a', password: 'rotated-elsewhere' });
    try {
      const denied = await h.issue(device, { terminalNumber: TERMINAL, scope: DEAL });
      expect(denied.body).toMatchObject({ status: 502, code: 'gateway-merchant-auth-failed', gatewayResult: '405' });
    } finally {
      h.sandbox.setTerminal(TERMINAL, { user: 'merchant-a', password: h.password });
    }
  });

  it('after a 405 reads the credentials again once, so a rotated password works without restart', async () => {
    const device = await h.enrollDevice();
    const rotated = `rotated-${Date.now()}`;
    h.sandbox.setTerminal(TERMINAL, { user: 'merchant-a', password: rotated });
    h.writeSecrets(rotated);
    try {
      const before = h.sandbox.stats.getSessionId;
      const res = await h.issue(device);
      expect(res.status).toBe(201);
      expect(h.sandbox.stats.getSessionId - before).toBe(2); // the 405 with the cached password, then success
      const events = await h.auditEvents(String(res.body.requestId));
      expect(events.map((e) => e.action)).toEqual(['session.requested', 'session.issued']);
    } finally {
      h.writeSecrets(h.password);
      h.sandbox.setTerminal(TERMINAL, { user: 'merchant-a', password: h.password });
      await h.app.get(SecretsProvider).refresh(`hyp/${TERMINAL}`);
    }
  });

  it('retries 457 within the deadline, then answers 503 with Retry-After', async () => {
    const device = await h.enrollDevice();
    h.sandbox.setFaults({ forceResult: '457' });
    const before = h.sandbox.stats.getSessionId;
    const res = await h.issue(device);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body).toMatchObject({ code: 'gateway-session-generation-failed', gatewayResult: '457' });
    expect(h.sandbox.stats.getSessionId - before).toBe(3);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events[1]).toMatchObject({ action: 'session.failed', gateway_result: '457', details: { attempts: 3 } });
  });

  it('answers 503 when the gateway returns HTTP 500 or drops the connection, 502 on a malformed body', async () => {
    const device = await h.enrollDevice();
    h.sandbox.setFaults({ http500: true });
    const five = await h.issue(device);
    expect(five.status).toBe(503);
    expect(five.body.code).toBe('gateway-unavailable');
    expect(five.headers['retry-after']).toBeDefined();

    h.sandbox.setFaults({ dropConnection: true });
    const dropped = await h.issue(device);
    expect(dropped.status).toBe(503);

    h.sandbox.setFaults({ malformedBody: true });
    const malformed = await h.issue(device);
    expect(malformed.status).toBe(502);
    expect(malformed.body.code).toBe('gateway-bad-response');
    for (const r of [five, dropped, malformed]) {
      const events = await h.auditEvents(String(r.body.requestId));
      expect(events.map((e) => e.action)).toEqual(['session.requested', 'session.failed']);
    }
  });

  it('answers 504 within the request deadline when the gateway stalls', async () => {
    const device = await h.enrollDevice();
    h.sandbox.setFaults({ latencyMs: 30_000 });
    const started = Date.now();
    const res = await h.issue(device);
    const elapsed = Date.now() - started;
    expect(res.status).toBe(504);
    expect(res.body.code).toBe('gateway-timeout');
    expect(elapsed).toBeLessThan(2_000 + 1_500); // REQUEST_DEADLINE_MS=2000 in the harness
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events[1]).toMatchObject({ action: 'session.failed', reason: 'gateway-timeout' });
  });

  it('answers 503 when the gateway is down (connection refused), retrying it', async () => {
    await h.db.query(`UPDATE terminal SET endpoint_url = 'http://127.0.0.1:1/xpo/Relay' WHERE terminal_number = $1`, [SECOND_TERMINAL]);
    h.app.get(TerminalDirectory).invalidate(SECOND_TERMINAL);
    const device = await h.enrollDevice(undefined, [SECOND_TERMINAL]);
    const res = await h.issue(device, { scope: DEAL });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('gateway-unavailable');
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events[1]).toMatchObject({ action: 'session.failed', details: { attempts: 3 } });
    await h.db.query(`UPDATE terminal SET endpoint_url = $2 WHERE terminal_number = $1`, [SECOND_TERMINAL, h.sandboxUrl]);
    h.app.get(TerminalDirectory).invalidate(SECOND_TERMINAL);
  });

  it('fails closed: no sessionId leaves when the issuance cannot be recorded', async () => {
    const device = await h.enrollDevice();
    await h.db.query(`
      CREATE FUNCTION refuse_issued() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.action = 'session.issued' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END; $$;
      CREATE TRIGGER refuse_issued BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION refuse_issued();`);
    try {
      const before = h.sandbox.stats.getSessionId;
      const res = await h.issue(device);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 'audit-unavailable' });
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
      expect(h.sandbox.stats.getSessionId).toBe(before + 1);
      // The attempt was recorded before the call; only the issuance is missing.
      const events = await h.auditEvents(String(res.body.requestId));
      expect(events.map((e) => e.action)).toEqual(['session.requested']);
    } finally {
      await h.db.query('DROP TRIGGER refuse_issued ON audit_event; DROP FUNCTION refuse_issued();');
    }
  });

  it('does not call the gateway when the attempt itself cannot be recorded', async () => {
    const device = await h.enrollDevice();
    await h.db.query(`ALTER TABLE audit_event RENAME TO audit_event_moved`);
    try {
      const before = h.sandbox.stats.getSessionId;
      const res = await h.issue(device);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('audit-unavailable');
      expect(h.sandbox.stats.getSessionId).toBe(before);
    } finally {
      await h.db.query(`ALTER TABLE audit_event_moved RENAME TO audit_event`);
    }
    expect((await h.issue(device)).status).toBe(201);
  });

  it('logs one line per request with request id and device, and never a secret', async () => {
    const device = await h.enrollDevice();
    const res = await h.issue(device);
    expect(res.status).toBe(201);
    const line = h.logs.parsed().find((l) => l.requestId === res.body.requestId && l.msg === 'request completed');
    expect(line).toMatchObject({ deviceId: device.deviceId, terminal: TERMINAL, outcome: 'ok', res: { statusCode: 201 } });
    expect(typeof line?.responseTime).toBe('number');
    expect(h.logs.text).not.toContain(String(res.body.sessionId));
    expect(h.logs.text).not.toContain(h.password);
  });
});
