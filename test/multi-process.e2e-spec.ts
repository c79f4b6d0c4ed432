import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { AUDIENCE, BrokerHarness, TERMINAL, type TestDevice } from './support/broker-harness';
import { buildOnce, startBrokerProcess, type BrokerProcess } from './support/broker-process';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BODY = { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function post(base: string, token: string, body: unknown = BODY, headers: Record<string, string> = {}) {
  const res = await request(`${base}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: JSON.parse(text) as Record<string, unknown> };
}

/**
 * Real separate broker processes (node dist/src/main.js) against one Postgres and one Redis:
 * what one instance learns, the other must honour.
 */
describe('several broker processes', () => {
  let h: BrokerHarness;
  let a: BrokerProcess;
  let b: BrokerProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    buildOnce();
    // The harness provides the database, secrets, sandbox and terminals; its own in-process broker is not used here.
    h = await BrokerHarness.start();
    env = {
      NODE_ENV: 'test',
      DATABASE_URL: h.db.url,
      SECRETS_FILE: h.secretsFile,
      DEVICE_JWT_AUDIENCE: AUDIENCE,
      REDIS_URL,
      DEVICE_CACHE_TTL_MS: '1000',
      DEVICE_RATE_LIMIT_PER_MINUTE: '4',
      LOG_LEVEL: 'warn',
    };
    [a, b] = await Promise.all([startBrokerProcess(await freePort(), env), startBrokerProcess(await freePort(), env)]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await h?.close();
  });

  it('holds a device rate limit across instances', async () => {
    const device = await h.enrollDevice();
    const statuses = [];
    for (const broker of [a, b, a, b, a]) statuses.push((await post(broker.url, device.jwt())).status);
    expect(statuses).toEqual([201, 201, 201, 201, 429]);
  });

  it('refuses on one instance a jti already used on the other', async () => {
    const device = await h.enrollDevice();
    const token = device.jwt();
    expect((await post(a.url, token)).status).toBe(201);
    expect((await post(b.url, token)).status).toBe(401);
  });

  it('answers an idempotent retry on the other instance with the first response', async () => {
    const device = await h.enrollDevice();
    const key = randomUUID();
    const before = h.sandbox.stats.getSessionId;
    const first = await post(a.url, device.jwt(), BODY, { 'idempotency-key': key });
    const retry = await post(b.url, device.jwt(), BODY, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(retry.body).toEqual(first.body);
    expect(h.sandbox.stats.getSessionId - before).toBe(1);
  });

  it('refuses a revoked device on the other instance within seconds', async () => {
    const device: TestDevice = await h.enrollDevice();
    expect((await post(b.url, device.jwt())).status).toBe(201); // b has the device cached now
    await h.db.query(`UPDATE device SET status = 'revoked' WHERE id = $1`, [device.deviceId]);
    // DEVICE_CACHE_TTL_MS is 1 s here: the other instance's cached "active" must be gone by then.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await post(b.url, device.jwt())).status).toBe(401);
  });

  it('on SIGTERM finishes what is in flight, exits 0, and every 201 has its issued audit event', async () => {
    const port = await freePort();
    const c = await startBrokerProcess(port, { ...env, DEVICE_RATE_LIMIT_PER_MINUTE: '100000', LOG_LEVEL: 'info' });
    const device = await h.enrollDevice();
    h.sandbox.setFaults({ latencyMs: 150 });
    const issued: string[] = [];
    const statuses = new Map<string, number>();
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const res = await post(c.url, device.jwt());
          statuses.set(String(res.status), (statuses.get(String(res.status)) ?? 0) + 1);
          if (res.status === 201) issued.push(String(res.body.requestId));
        } catch {
          statuses.set('connection', (statuses.get('connection') ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    const workers = Array.from({ length: 20 }, worker);
    await new Promise((r) => setTimeout(r, 1_000));
    const inFlightAtSigterm = issued.length;
    const exit = c.stop('SIGTERM');
    expect(await exit).toBe(0);
    stop = true;
    await Promise.all(workers);
    h.sandbox.setFaults({});

    expect(issued.length).toBeGreaterThan(inFlightAtSigterm); // requests in flight at SIGTERM completed with 201
    const rows = await h.db.query<{ request_id: string }>(`SELECT request_id FROM audit_event WHERE action = 'session.issued' AND request_id = ANY($1)`, [
      issued,
    ]);
    expect(new Set(rows.map((r) => r.request_id))).toEqual(new Set(issued));
    expect(c.output()).toContain('SIGTERM: shutting down');
  }, 30_000);
});
