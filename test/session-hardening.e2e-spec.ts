import { randomInt, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { ReplayGuard } from '../src/devices/replay-guard';
import { BrokerMetrics } from '../src/metrics/broker-metrics';
import { BrokerHarness, TERMINAL, type TestDevice } from './support/broker-harness';

const DEAL = { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' };
const BODY = { terminalNumber: TERMINAL, scope: DEAL };
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Polls until `read` returns something non-empty (refusals may be written a little after the answer). */
async function eventually<T>(read: () => Promise<T[]>, timeoutMs = 3_000): Promise<T[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rows = await read();
    if (rows.length > 0 || Date.now() > until) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A JSON text nesting `depth` arrays inside `scope.a` (built as text: JSON.stringify would recurse). */
function deepScopeBody(depth: number): string {
  return `{"terminalNumber":"${TERMINAL}","scope":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
}

describe('session path under hostile input (Postgres stores)', () => {
  let h: BrokerHarness;
  let device: TestDevice;

  beforeAll(async () => {
    h = await BrokerHarness.start({ DEVICE_JWT_CLOCK_SKEW_SECONDS: '120', DEVICE_RATE_LIMIT_PER_MINUTE: '100000' });
    device = await h.enrollDevice();
  });
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  describe('jti shape', () => {
    it('refuses a NUL in the jti with 401 (reason malformed-jti) while concurrent good requests all get 201', async () => {
      const other = await h.enrollDevice();
      for (let round = 0; round < 3; round++) {
        const good = Array.from({ length: 12 }, (_, i) => h.issue(i % 2 === 0 ? device : other));
        const poisoned = h.issue(other, BODY, other.jwt({ jti: `abc\u0000def-${round}` }));
        const [bad, ...rest] = await Promise.all([poisoned, ...good]);
        expect(bad.status).toBe(401);
        expect(bad.headers['content-type']).toContain('application/problem+json');
        expect(bad.body.sessionId).toBeUndefined();
        expect(rest.map((r) => r.status)).toEqual(rest.map(() => 201));
        for (const r of rest) {
          const actions = (await h.auditEvents(String(r.body.requestId))).map((e) => e.action);
          expect(actions).toEqual(['session.requested', 'session.issued']);
        }
      }
      const refused = await eventually(() =>
        h.db.query<{ reason: string }>(`SELECT reason FROM audit_event WHERE action = 'auth.refused' AND actor_id = $1`, [other.deviceId]),
      );
      expect(refused.map((r) => r.reason)).toContain('malformed-jti');
      expect(refused.map((r) => r.reason).every((r) => r === 'malformed-jti')).toBe(true);
    });

    it.each([
      ['a space', 'has space'],
      ['a non-ASCII letter', 'jtié'],
      ['129 characters', 'x'.repeat(129)],
      ['a control character', 'a\tb'],
    ])('refuses a jti with %s (401, malformed-jti)', async (_, jti) => {
      const res = await h.issue(device, BODY, device.jwt({ jti }));
      expect(res.status).toBe(401);
      const rows = await eventually(() =>
        h.db.query<{ reason: string }>(`SELECT reason FROM audit_event WHERE action = 'auth.refused' AND request_id = $1`, [res.headers['x-request-id']]),
      );
      expect(rows.map((r) => r.reason)).toContain('malformed-jti');
    });

    it('accepts a 128-character visible-ASCII jti', async () => {
      const jti = '!~'.repeat(64);
      expect((await h.issue(device, BODY, device.jwt({ jti }))).status).toBe(201);
    });
  });

  describe('jti retention covers the clock skew', () => {
    it('refuses a replay after the old purge rule (exp + 1 minute) would have dropped the claim (skew 120 s)', async () => {
      const now = Math.floor(Date.now() / 1000);
      // Expired 90 s ago: still accepted with 120 s of skew tolerance.
      const token = device.jwt({ iat: now - 100, exp: now - 90 }, { expiresIn: undefined });
      expect((await h.issue(device, BODY, token)).status).toBe(201);
      // The purge the broker runs every minute; the old rule deleted claims whose exp was over a minute ago.
      await h.app.get(ReplayGuard).purgeExpired();
      const replay = await h.issue(device, BODY, token);
      expect(replay.status).toBe(401);
      const rows = await eventually(() =>
        h.db.query<{ reason: string }>(`SELECT reason FROM audit_event WHERE action = 'auth.refused' AND request_id = $1`, [replay.headers['x-request-id']]),
      );
      expect(rows.map((r) => r.reason)).toContain('jti-replayed');
    });

    it('still purges claims once exp + skew has passed', async () => {
      const jti = `old-${randomUUID()}`;
      await h.db.query(`INSERT INTO device_jti (device_id, jti, expires_at) VALUES ($1, $2, now() - interval '10 minutes')`, [device.deviceId, jti]);
      await h.app.get(ReplayGuard).purgeExpired();
      expect(await h.db.query('SELECT 1 FROM device_jti WHERE jti = $1', [jti])).toEqual([]);
    });
  });

  describe('metrics labels', () => {
    it('does not create a terminal label per unknown terminal number from denials', async () => {
      const metrics = h.app.get(BrokerMetrics);
      const numbers = new Set<string>();
      while (numbers.size < 50) numbers.add(String(randomInt(1_000_000_000, 9_999_999_999)));
      for (const n of numbers) {
        const res = await h.issue(device, { terminalNumber: n, scope: DEAL });
        expect(res.status).toBe(403);
      }
      const text = await metrics.registry.metrics();
      const labels = new Set([...text.matchAll(/^broker_session_requests_total\{[^}]*terminal="([^"]*)"/gm)].map((m) => m[1]));
      for (const n of numbers) expect(labels.has(n)).toBe(false);
      expect(text).toMatch(/broker_session_requests_total\{outcome="denied",terminal="unknown",gateway_result="none"\} (\d+)/);
      // A real terminal keeps its own label.
      expect((await h.issue(device)).status).toBe(201);
      expect(await metrics.registry.metrics()).toMatch(
        new RegExp(`broker_session_requests_total\\{outcome="issued",terminal="${TERMINAL}",gateway_result="000"\\} \\d+`),
      );
    });
  });

  describe('nesting depth', () => {
    it.each([
      ['without', undefined],
      ['with', 'deep-key'],
    ])('refuses a 7,000-deep scope %s an Idempotency-Key with a 400 naming the field', async (_, key) => {
      const headers: Record<string, string> = { authorization: `Bearer ${device.jwt()}` };
      if (key) headers['idempotency-key'] = `${key}-${randomUUID()}`;
      const res = await h.post('/v1/sessions', deepScopeBody(7_000), headers, true);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body.code).toBe('invalid-request');
      expect(res.body.errors).toEqual([{ path: 'scope', message: expect.stringMatching(/nest/) }]);
    });

    it('refuses a scope just past the limit and still serves valid requests', async () => {
      const post = (depth: number) =>
        h.post('/v1/sessions', deepScopeBody(depth), { authorization: `Bearer ${device.jwt()}`, 'idempotency-key': randomUUID() }, true);
      // Body (1), scope (2), then 6 arrays: 8 levels, the most allowed; the Hyp scope schema then refuses the field.
      const atLimit = await post(6);
      expect(atLimit.status).toBe(400);
      expect(atLimit.body.errors).toEqual([{ path: 'scope', message: expect.stringMatching(/Unrecognized key/) }]);
      const past = await post(7);
      expect(past.status).toBe(400);
      expect(past.body.errors).toEqual([{ path: 'scope', message: expect.stringMatching(/nest/) }]);
      expect((await h.post('/v1/sessions', BODY, { authorization: `Bearer ${device.jwt()}`, 'idempotency-key': randomUUID() })).status).toBe(201);
    });
  });
});

describe('jti retention covers the clock skew (Redis store)', () => {
  let h: BrokerHarness;
  let device: TestDevice;

  beforeAll(async () => {
    h = await BrokerHarness.start({ REDIS_URL, DEVICE_JWT_CLOCK_SKEW_SECONDS: '120' });
    device = await h.enrollDevice();
  });
  afterAll(async () => {
    await h.close();
  });

  it('keeps the claim until exp + skew: a replay after the old expiry (exp + 60 s) is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const jti = randomUUID();
    const token = device.jwt({ jti, iat: now - 100, exp: now - 90 }, { expiresIn: undefined });
    expect((await h.issue(device, BODY, token)).status).toBe(201);
    const redis = new Redis(REDIS_URL);
    const ttl = await redis.pttl(`jti:${device.deviceId}:${jti}`);
    await redis.quit();
    // exp + 120 s is 30 s from now; the old rule kept it one second.
    expect(ttl).toBeGreaterThan(29_000);
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await h.issue(device, BODY, token)).status).toBe(401);
  });
});
