import { request } from 'undici';
import { BrokerHarness, SECOND_TERMINAL, TERMINAL } from './support/broker-harness';

const DEAL = { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' };

describe('circuit breaker, bulkhead and metrics', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({
      GATEWAY_RETRY_MAX_ATTEMPTS: '1',
      GATEWAY_BREAKER_THRESHOLD: '3',
      GATEWAY_BREAKER_HALF_OPEN_AFTER_MS: '700',
    });
  });
  afterEach(() => h.sandbox.setFaults({}));
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  async function metrics(): Promise<string> {
    // The metrics port answers 200 (h.metrics() throws otherwise); the API port no longer serves them.
    const res = await request(`${h.baseUrl}/metrics`);
    await res.body.dump();
    expect(res.statusCode).toBe(404);
    return h.metrics();
  }

  it('opens after consecutive infrastructure failures, fails fast with 503 + Retry-After, and recovers', async () => {
    const device = await h.enrollDevice(undefined, [TERMINAL, SECOND_TERMINAL]);
    h.sandbox.setFaults({ http500: true });
    for (let i = 0; i < 3; i++) expect((await h.issue(device)).status).toBe(503);

    const calls = h.sandbox.stats.getSessionId;
    const started = Date.now();
    const open = await h.issue(device);
    expect(open.status).toBe(503);
    expect(open.body.code).toBe('dependency-unavailable');
    expect(open.headers['retry-after']).toBe('1');
    expect(Date.now() - started).toBeLessThan(500);
    expect(h.sandbox.stats.getSessionId).toBe(calls); // the gateway was not called
    const events = await h.auditEvents(String(open.body.requestId));
    expect(events.map((e) => [e.action, e.reason])).toEqual([
      ['session.requested', null],
      ['session.failed', 'dependency-unavailable'],
    ]);
    expect(await metrics()).toMatch(/broker_gateway_breaker_state\{origin="http:\/\/127\.0\.0\.1:\d+"\} 2/);

    h.sandbox.setFaults({});
    await new Promise((r) => setTimeout(r, 800));
    expect((await h.issue(device)).status).toBe(201); // half-open trial succeeds
    expect((await h.issue(device, { terminalNumber: SECOND_TERMINAL, scope: DEAL })).status).toBe(201);
    expect(await metrics()).toMatch(/broker_gateway_breaker_state\{origin="http:\/\/127\.0\.0\.1:\d+"\} 0/);
  });

  it("is not opened by a merchant's own refusals (wrong password)", async () => {
    const device = await h.enrollDevice();
    h.sandbox.setFaults({ forceResult: '405' });
    for (let i = 0; i < 5; i++) expect((await h.issue(device)).status).toBe(502);
    h.sandbox.setFaults({});
    expect((await h.issue(device)).status).toBe(201);
  });

  it('exposes issuance, gateway latency and audit metrics', async () => {
    const device = await h.enrollDevice();
    expect((await h.issue(device)).status).toBe(201);
    const text = await metrics();
    expect(text).toMatch(new RegExp(`broker_session_requests_total\\{outcome="issued",terminal="${TERMINAL}",gateway_result="000"\\} \\d+`));
    expect(text).toMatch(/broker_gateway_call_duration_seconds_count\{origin="[^"]+",result="ok"\} \d+/);
    expect(text).toMatch(/broker_audit_flush_duration_seconds_count\{result="ok"\} \d+/);
    expect(text).toMatch(/broker_process_cpu_seconds_total/);
  });
});

describe('rate limits', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ DEVICE_RATE_LIMIT_PER_MINUTE: '3', TERMINAL_RATE_LIMIT_PER_MINUTE: '5' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('limits each device, then each terminal, with 429 problem+json and Retry-After', async () => {
    const a = await h.enrollDevice();
    for (let i = 0; i < 3; i++) expect((await h.issue(a)).status).toBe(201);
    const limited = await h.issue(a);
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toContain('application/problem+json');
    expect(limited.body).toMatchObject({ status: 429, code: 'rate-limited' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);

    const b = await h.enrollDevice();
    expect((await h.issue(b)).status).toBe(201);
    expect((await h.issue(b)).status).toBe(201);
    // 5 sessions on the terminal now: device b is under its own limit but the terminal is full.
    expect((await h.issue(b)).status).toBe(429);
    const text = await h.metrics();
    expect(text).toMatch(/broker_rate_limit_rejections_total\{limit="device"\} 1/);
    expect(text).toMatch(/broker_rate_limit_rejections_total\{limit="terminal"\} 1/);
  });
});

describe('bulkhead', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ GATEWAY_BULKHEAD_LIMIT: '1', GATEWAY_BULKHEAD_QUEUE: '0', GATEWAY_RETRY_MAX_ATTEMPTS: '1' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('caps concurrent calls per gateway origin and refuses the excess at once with 503', async () => {
    const device = await h.enrollDevice();
    h.sandbox.setFaults({ latencyMs: 400 });
    const results = await Promise.all([h.issue(device), h.issue(device), h.issue(device)]);
    h.sandbox.setFaults({});
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 503, 503]);
    const refused = results.filter((r) => r.status === 503);
    for (const r of refused) expect(r.body.code).toBe('dependency-unavailable');
    const text = await h.metrics();
    expect(text).toMatch(/broker_gateway_bulkhead_rejections_total\{origin="[^"]+"\} 2/);
  });
});
