import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { BrokerHarness, TERMINAL, type TestDevice } from './support/broker-harness';
import { TcpProxy } from './support/tcp-proxy';

const BODY = { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } };
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const DEADLINE_MS = 1_500;
/** What the answer may take beyond the deadline (timer granularity, the problem's own write, a loaded CI box). */
const MARGIN_MS = 1_000;

interface Timed {
  status: number;
  contentType: string;
  body: Record<string, unknown>;
  ms: number;
}

/** POST /v1/sessions with the test's own give-up time, so a hanging broker fails the test instead of stalling it. */
async function timedIssue(h: BrokerHarness, device: TestDevice, headers: Record<string, string> = {}): Promise<Timed> {
  const started = Date.now();
  const res = await request(`${h.baseUrl}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${device.jwt()}`, ...headers },
    body: JSON.stringify(BODY),
    signal: AbortSignal.timeout(8_000),
  }).catch((err: Error) => {
    throw new Error(`no answer after ${Date.now() - started} ms (${err.name})`);
  });
  const text = await res.body.text();
  const body = JSON.parse(text) as Record<string, unknown>;
  if (typeof body.sessionId === 'string') h.secretsSeen.add(body.sessionId);
  return { status: res.statusCode, contentType: String(res.headers['content-type']), body, ms: Date.now() - started };
}

async function untilIssued(h: BrokerHarness, device: TestDevice, withinMs: number): Promise<Timed> {
  const until = Date.now() + withinMs;
  for (;;) {
    const res = await timedIssue(h, device);
    if (res.status === 201 || Date.now() > until) return res;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every bound under test is at most DEADLINE_MS (1.5 s) or 1 s. */
function expectBoundedAnswer(res: Timed): void {
  expect(res.status).toBe(503);
  expect(res.contentType).toContain('application/problem+json');
  expect(res.body.sessionId).toBeUndefined();
  expect(res.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
}

async function expectEveryIssuedAudited(h: BrokerHarness, issued: Timed[]): Promise<void> {
  const ids = issued.map((r) => String(r.body.requestId));
  const rows = await h.db.query<{ request_id: string }>(
    `SELECT DISTINCT request_id FROM audit_event WHERE action = 'session.issued' AND request_id = ANY($1)`,
    [ids],
  );
  expect(rows.map((r) => r.request_id).sort()).toEqual([...ids].sort());
}

/**
 * Each dependency black-holed in turn, with either bound doing the work alone: the whole-request
 * deadline (the pool's and client's own timeouts left long), or the dependency's own timeout (the
 * deadline left long).
 */
describe.each([
  ['Postgres', 'the request deadline', DEADLINE_MS, {}],
  ['Postgres', 'the pool query timeout', 20_000, { DATABASE_QUERY_TIMEOUT_MS: '1000', DATABASE_STATEMENT_TIMEOUT_MS: '1000' }],
  ['Redis', 'the request deadline', DEADLINE_MS, { REDIS_COMMAND_TIMEOUT_MS: '20000' }],
  ['Redis', 'the command timeout', 20_000, { REDIS_COMMAND_TIMEOUT_MS: '1000' }],
])('a silent network drop to %s, bounded by %s', (target, _bound, deadlineMs: number, env: Record<string, string>) => {
  let h: BrokerHarness;
  let device: TestDevice;
  const proxy = target === 'Postgres' ? new TcpProxy('127.0.0.1', 5432) : new TcpProxy('127.0.0.1', Number(new URL(REDIS_URL).port || 6379));

  beforeAll(async () => {
    await proxy.start();
    const via = (url: string) => {
      const u = new URL(url);
      u.port = String(proxy.port);
      return u.toString();
    };
    const base = { REQUEST_DEADLINE_MS: String(deadlineMs), DEVICE_CACHE_TTL_MS: '0', ...env };
    h = target === 'Postgres' ? await BrokerHarness.start(base, via) : await BrokerHarness.start({ ...base, REDIS_URL: via(REDIS_URL) });
    device = await h.enrollDevice();
  });
  afterAll(async () => {
    proxy.blackhole(false);
    await h.expectNoSecretsLeaked();
    await h.close();
    await proxy.stop();
  });

  it('answers 503 problem+json within the bound instead of hanging, never hands out a sessionId, then recovers', async () => {
    const before = await timedIssue(h, device, { 'idempotency-key': randomUUID() });
    expect(before.status).toBe(201);

    proxy.blackhole(true);
    const during = await Promise.all([timedIssue(h, device), timedIssue(h, device), timedIssue(h, device, { 'idempotency-key': randomUUID() })]);
    for (const res of during) expectBoundedAnswer(res);
    // Later requests too: connections stuck on the first ones must not make them wait longer.
    expectBoundedAnswer(await timedIssue(h, device));

    proxy.blackhole(false);
    const after = await untilIssued(h, device, 15_000);
    expect(after.status).toBe(201);
    await expectEveryIssuedAudited(h, [before, after]);
  });
});

describe('an audit write that ends after the deadline answered', () => {
  let h: BrokerHarness;
  let device: TestDevice;

  beforeAll(async () => {
    h = await BrokerHarness.start({ REQUEST_DEADLINE_MS: String(DEADLINE_MS) });
    device = await h.enrollDevice();
  });
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  it('answers 503 without the sessionId, and the trail records the issuance and that it was withheld', async () => {
    // The database turns slow exactly when the issuance is being recorded.
    await h.db.query(`CREATE FUNCTION slow_issued() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.action = 'session.issued' THEN PERFORM pg_sleep(${(DEADLINE_MS + 1_000) / 1000}); END IF; RETURN NEW; END; $$`);
    await h.db.query(`CREATE TRIGGER slow_issued BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION slow_issued()`);
    try {
      const res = await timedIssue(h, device);
      expectBoundedAnswer(res);
      const requestId = String(res.body.requestId);
      const until = Date.now() + 5_000;
      let actions: string[] = [];
      while (Date.now() < until) {
        actions = (await h.auditEvents(requestId)).map((e) => e.action);
        if (actions.includes('session.withheld')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(actions).toEqual(['session.requested', 'session.issued', 'session.withheld']);
      const [issued, withheld] = (await h.auditEvents(requestId)).slice(1);
      expect(withheld).toMatchObject({ outcome: 'failed', reason: 'request-deadline', session_fingerprint: issued.session_fingerprint });
    } finally {
      await h.db.query('DROP TRIGGER slow_issued ON audit_event');
    }
    expect((await timedIssue(h, device)).status).toBe(201);
  });
});
