import { BrokerHarness, TERMINAL } from './support/broker-harness';
import { client } from './support/local-client';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Refusals are counted per minute: keep a test's burst inside one minute. */
async function awayFromMinuteBoundary(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 55_000) await sleep(60_000 - into + 50);
}
const SCOPE = { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' };

interface RefusalRow {
  actor_type: string;
  reason: string;
  details: { count: number; firstAt: string; lastAt: string };
}

async function refusalsFrom(h: BrokerHarness, ip: string): Promise<RefusalRow[]> {
  return h.db.query<RefusalRow>(`SELECT actor_type, reason, details FROM audit_event WHERE action = 'auth.refused' AND client_ip = $1 ORDER BY id`, [ip]);
}

describe('refused authentication under a flood', () => {
  let h: BrokerHarness;
  const LIMIT = 20;
  const INTERVAL_MS = 3_000;

  beforeAll(async () => {
    h = await BrokerHarness.start({ AUTH_FAILURE_LIMIT_PER_MINUTE: String(LIMIT), AUTH_REFUSAL_AUDIT_INTERVAL_MS: String(INTERVAL_MS) });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('limits refusals per client address (429 before authentication) and audits every one of them in a few aggregated rows', async () => {
    await awayFromMinuteBoundary();
    const flooder = client('127.0.0.1');
    const TOTAL = 300;
    const started = Date.now();
    const statuses: number[] = [];
    const limited: Array<{ headers: Record<string, unknown>; text: string }> = [];
    try {
      for (let sent = 0; sent < TOTAL; sent += 30) {
        const batch = await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            (sent + i) % 2 === 0
              ? flooder.send(h.baseUrl, 'POST', '/v1/sessions', {}, { terminalNumber: TERMINAL, scope: SCOPE })
              : flooder.send(h.baseUrl, 'GET', '/v1/admin/terminals'),
          ),
        );
        for (const r of batch) {
          statuses.push(r.status);
          if (r.status === 429) limited.push(r);
        }
      }
    } finally {
      await flooder.close();
    }
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    const refused401 = statuses.filter((s) => s === 401).length;
    // Requests already past the check when the limit was reached may still end in 401; nothing after.
    expect(refused401).toBeGreaterThanOrEqual(LIMIT);
    expect(refused401).toBeLessThan(LIMIT + 30);
    expect(statuses.slice(LIMIT + 30).every((s) => s === 429)).toBe(true);
    for (const r of limited.slice(0, 3)) {
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(r.text)).toMatchObject({ status: 429, code: 'rate-limited' });
    }

    // A device from another address is not affected; from the flooding address even a valid token waits.
    const device = await h.enrollDevice();
    const other = client('127.0.0.2');
    try {
      const ok = await other.send(h.baseUrl, 'POST', '/v1/sessions', { authorization: `Bearer ${device.jwt()}` }, { terminalNumber: TERMINAL, scope: SCOPE });
      expect(ok.status).toBe(201);
    } finally {
      await other.close();
    }
    expect((await h.issue(device)).status).toBe(429);
    const intervals = Math.ceil((Date.now() - started) / INTERVAL_MS);

    // Every refusal accounted for (401s and 429s alike), in at most two rows per actor type, reason and interval.
    await sleep(INTERVAL_MS + 500);
    const rows = await refusalsFrom(h, '127.0.0.1');
    const total = rows.reduce((n, r) => n + r.details.count, 0);
    expect(total).toBe(TOTAL + 1);
    const groups = new Map<string, number>();
    for (const r of rows) groups.set(`${r.actor_type}/${r.reason}`, (groups.get(`${r.actor_type}/${r.reason}`) ?? 0) + 1);
    expect([...groups.keys()].sort()).toEqual(['device/auth-failure-limit', 'device/no-token', 'operator/auth-failure-limit', 'operator/no-token']);
    expect(Math.max(...groups.values())).toBeLessThanOrEqual(2 * intervals);
    for (const r of rows) expect(Date.parse(r.details.lastAt)).toBeGreaterThanOrEqual(Date.parse(r.details.firstAt));
  });
});

describe('aggregated refusals at shutdown', () => {
  it('writes the pending counts before the database closes', async () => {
    const h = await BrokerHarness.start({ AUTH_REFUSAL_AUDIT_INTERVAL_MS: '600000' });
    let closed = false;
    try {
      const flooder = client('127.0.0.1');
      try {
        for (let i = 0; i < 25; i++) expect((await flooder.send(h.baseUrl, 'GET', '/v1/admin/terminals')).status).toBe(401);
      } finally {
        await flooder.close();
      }
      const before = await refusalsFrom(h, '127.0.0.1');
      expect(before.map((r) => r.details.count)).toEqual([1]); // the first at once, the rest pending
      await h.app.close();
      closed = true;
      const after = await refusalsFrom(h, '127.0.0.1');
      expect(after.map((r) => r.details.count)).toEqual([1, 24]);
    } finally {
      if (closed) h.app.close = async () => undefined;
      await h.close();
    }
  });
});

describe('refusal limit shared through Redis', () => {
  let a: BrokerHarness;
  let b: BrokerHarness;
  // An address of its own: other tests on the same Redis count 127.0.0.1.
  const ADDRESS = '127.0.0.77';

  beforeAll(async () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', AUTH_FAILURE_LIMIT_PER_MINUTE: '10' };
    [a, b] = await Promise.all([BrokerHarness.start(env), BrokerHarness.start(env)]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('counts the refusals of every instance against one limit', async () => {
    await awayFromMinuteBoundary();
    const c = client(ADDRESS);
    try {
      const first = [];
      for (let i = 0; i < 6; i++) first.push((await c.send(a.baseUrl, 'GET', '/v1/admin/terminals')).status);
      for (let i = 0; i < 4; i++) first.push((await c.send(b.baseUrl, 'GET', '/v1/admin/terminals')).status);
      expect(first).toEqual(new Array(10).fill(401));
      // The 10th refusal (on b) reached the shared limit: b answers 429 at once.
      expect((await c.send(b.baseUrl, 'GET', '/v1/admin/terminals')).status).toBe(429);
      // a learns it from the shared count with its next refusal, and from then on refuses before authentication.
      expect((await c.send(a.baseUrl, 'GET', '/v1/admin/terminals')).status).toBe(401);
      expect((await c.send(a.baseUrl, 'GET', '/v1/admin/terminals')).status).toBe(429);
    } finally {
      await c.close();
    }
  });
});
