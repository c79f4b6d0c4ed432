import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { BrokerHarness, SECOND_TERMINAL, TERMINAL, type TestDevice } from './support/broker-harness';

const BODY = { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } };
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe.each([
  ['Postgres', {}],
  ['Redis', { REDIS_URL }],
])('Idempotency-Key on POST /v1/sessions (%s store)', (store, env: Record<string, string>) => {
  let h: BrokerHarness;
  let device: TestDevice;

  beforeAll(async () => {
    // Device changes take effect at once (no cache lag), for the replay re-checks below.
    h = await BrokerHarness.start({ ...env, DEVICE_CACHE_TTL_MS: '0' });
    device = await h.enrollDevice();
  });
  afterEach(() => h.sandbox.setFaults({}));
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  const post = (key: string, body: unknown = BODY) => h.post('/v1/sessions', body, { authorization: `Bearer ${device.jwt()}`, 'idempotency-key': key });

  it('answers a retry with the first response, without a second gateway call', async () => {
    const key = randomUUID();
    const before = h.sandbox.stats.getSessionId;
    const first = await post(key);
    const retry = await post(key);
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(h.sandbox.stats.getSessionId - before).toBe(1);
    const issued = await h.db.query(`SELECT count(*)::int AS n FROM audit_event WHERE action = 'session.issued' AND request_id = $1`, [first.body.requestId]);
    expect(issued).toEqual([{ n: 1 }]);
  });

  it('refuses the same key with a different body (409)', async () => {
    const key = randomUUID();
    expect((await post(key)).status).toBe(201);
    const other = await post(key, { ...BODY, scope: { command: 'doDeal' } });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('conflict');
  });

  it('makes a retry that arrives while the first call is in flight wait for it and get its response', async () => {
    const key = randomUUID();
    h.sandbox.setFaults({ latencyMs: 400 });
    const before = h.sandbox.stats.getSessionId;
    const [a, b] = await Promise.all([post(key), new Promise((r) => setTimeout(r, 100)).then(() => post(key))]);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.sessionId).toBe(a.body.sessionId);
    expect(h.sandbox.stats.getSessionId - before).toBe(1);
    // The waiting retry is a replay too: re-checked and recorded.
    expect((await h.auditEvents(String(b.headers['x-request-id']))).map((e) => e.action)).toEqual(['session.replayed']);
  });

  it('does not store failures: a retry after a 503 runs again', async () => {
    const key = randomUUID();
    h.sandbox.setFaults({ forceResult: '457' });
    expect((await post(key)).status).toBe(503);
    h.sandbox.setFaults({});
    const retry = await post(key);
    expect(retry.status).toBe(201);
  });

  it('keeps the stored response encrypted', async () => {
    const key = randomUUID();
    const res = await post(key);
    const sessionId = String(res.body.sessionId);
    if (store === 'Postgres') {
      const rows = await h.db.query<{ response: string }>('SELECT response FROM idempotency_record WHERE idempotency_key = $1', [key]);
      expect(rows).toHaveLength(1);
      expect(rows[0].response).toMatch(/^v1\./);
      expect(rows[0].response).not.toContain(sessionId);
    } else {
      const redis = new Redis(REDIS_URL);
      const raw = await redis.get(`idem:${device.deviceId}:${key}`);
      const ttl = await redis.pttl(`idem:${device.deviceId}:${key}`);
      await redis.quit();
      expect(raw).toContain('"r":"v1.');
      expect(raw).not.toContain(sessionId);
      expect(ttl).toBeGreaterThan(590_000); // expires with the session (600 s)
      expect(ttl).toBeLessThanOrEqual(600_000);
    }
  });

  describe('a replay', () => {
    const admin = (method: 'PATCH' | 'POST', path: string, body?: unknown) =>
      h.send(method, path, body, { authorization: `Bearer ${h.operatorToken(['admin'], { subject: 'bob@example.com' })}` });
    const replayAs = (d: TestDevice, key: string, body: unknown = BODY) =>
      h.post('/v1/sessions', body, { authorization: `Bearer ${d.jwt()}`, 'idempotency-key': key });
    const events = (requestId: unknown) => h.auditEvents(String(requestId));

    it('is recorded on every replay as session.replayed, naming the original request', async () => {
      const key = randomUUID();
      const first = await post(key);
      expect(first.status).toBe(201);
      const [issued] = (await events(first.body.requestId)).filter((e) => e.action === 'session.issued');
      for (let i = 0; i < 2; i++) {
        const retry = await post(key);
        expect(retry.status).toBe(201);
        expect(retry.body.sessionId).toBe(first.body.sessionId);
        const own = await events(retry.headers['x-request-id']);
        expect(own.map((e) => [e.action, e.outcome])).toEqual([['session.replayed', 'success']]);
        expect(own[0]).toMatchObject({
          actor_id: device.deviceId,
          terminal_number: TERMINAL,
          session_fingerprint: issued.session_fingerprint,
          details: expect.objectContaining({ originalRequestId: first.body.requestId }),
        });
      }
    });

    it('is refused (403, no sessionId) once the device is no longer bound to the terminal', async () => {
      const d = await h.enrollDevice(undefined, [TERMINAL, SECOND_TERMINAL]);
      const key = randomUUID();
      expect((await replayAs(d, key)).status).toBe(201);
      expect((await admin('PATCH', `/v1/admin/devices/${d.deviceId}`, { terminalNumbers: [SECOND_TERMINAL] })).status).toBe(200);
      const replay = await replayAs(d, key);
      expect(replay.status).toBe(403);
      expect(replay.body.sessionId).toBeUndefined();
      expect((await events(replay.headers['x-request-id'])).map((e) => [e.action, e.reason])).toEqual([['session.denied', 'terminal-not-bound']]);
    });

    it('is refused (403, no sessionId) once the scope is outside the device policy', async () => {
      const d = await h.enrollDevice();
      const key = randomUUID();
      expect((await replayAs(d, key)).status).toBe(201);
      const narrower = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'Verify', transactionType: 'Credit' }] };
      expect((await admin('PATCH', `/v1/admin/devices/${d.deviceId}`, { policy: narrower })).status).toBe(200);
      const replay = await replayAs(d, key);
      expect(replay.status).toBe(403);
      expect(replay.body.sessionId).toBeUndefined();
      expect((await events(replay.headers['x-request-id'])).map((e) => [e.action, e.reason])).toEqual([['session.denied', 'scope-not-permitted']]);
    });

    it('is refused (401, no sessionId) once the device is disabled', async () => {
      const d = await h.enrollDevice();
      const key = randomUUID();
      expect((await replayAs(d, key)).status).toBe(201);
      expect((await admin('POST', `/v1/admin/devices/${d.deviceId}/disable`)).status).toBe(200);
      const replay = await replayAs(d, key);
      expect(replay.status).toBe(401);
      expect(replay.body.sessionId).toBeUndefined();
    });
  });

  it('refuses a malformed Idempotency-Key', async () => {
    const res = await post('bad key with spaces');
    expect(res.status).toBe(400);
  });
});
