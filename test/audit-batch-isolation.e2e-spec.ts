import { randomUUID } from 'node:crypto';
import { ReplayGuard } from '../src/devices/replay-guard';
import { BrokerHarness, TERMINAL, type HttpResult, type TestDevice } from './support/broker-harness';

/** The six characters backslash, u, 0, 0, 0, 0: text, not a NUL. */
const SIX_CHARS = '\\u0000';
const GOOD = 21;
const SESSION = { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 11 §1: one caller's input never fails another caller's write. The audit events and the jti
 * claims of concurrent requests are group-committed; a poisoned value in one of them must fail at
 * most that one caller, never the batch it shares with everyone else.
 */
describe('audit and jti batches: one caller cannot fail another', () => {
  let h: BrokerHarness;
  let devices: TestDevice[];
  let auditor: string;

  beforeAll(async () => {
    h = await BrokerHarness.start({ DEVICE_RATE_LIMIT_PER_MINUTE: '10000' });
    devices = [];
    for (let i = 0; i < GOOD; i++) devices.push(await h.enrollDevice());
    auditor = h.operatorToken(['auditor'], { subject: 'auditor@example.com' });
  });

  afterAll(async () => {
    await h?.expectNoSecretsLeaked();
    await h?.close();
  });

  const requestIdOf = (res: HttpResult) => String(res.headers['x-request-id']);

  /** Every good request got 201 and both of its events (requested, issued) are in the trail. */
  async function expectAllIssued(results: HttpResult[]): Promise<void> {
    expect(results.map((r) => r.status)).toEqual(results.map(() => 201));
    for (const res of results) {
      const actions = (await h.auditEvents(requestIdOf(res))).map((e) => e.action);
      expect(actions).toEqual(['session.requested', 'session.issued']);
    }
  }

  it('"\\u0000" as text in query filters and user agents among 20 concurrent issuances: all 201, every event written, the text kept', async () => {
    for (let round = 0; round < 3; round++) {
      // Spread over the time the issuances take, so that their events and these share batches.
      const poisoned = Array.from({ length: 8 }, (_, i) =>
        sleep(i * 4).then(() =>
          h.send('GET', `/v1/audit/events?limit=1&requestId=${encodeURIComponent(`${SIX_CHARS}x${round}-${i}`)}`, undefined, {
            authorization: `Bearer ${auditor}`,
            'user-agent': `pos/${SIX_CHARS}`,
          }),
        ),
      );
      const good = devices.slice(1).map((d) => h.issue(d));
      const results = await Promise.all(good);
      const poisonResults = await Promise.all(poisoned);
      await expectAllIssued(results);
      // The poisoned requests themselves are fine too: nothing in them is invalid once cleaned.
      for (const [i, res] of poisonResults.entries()) {
        expect(res.status).toBe(200);
        const [listed] = await h.auditEvents(requestIdOf(res));
        expect(listed.user_agent).toBe(`pos/${SIX_CHARS}`);
        expect(JSON.stringify(listed.details)).toContain(JSON.stringify(`${SIX_CHARS}x${round}-${i}`));
      }
    }
  });

  it('a real NUL or a lone surrogate nested in JSON (values and keys) is removed, not written and not failing the batch', async () => {
    const { AuditTrail } = await import('../src/audit/audit-trail');
    const trail = h.app.get(AuditTrail);
    const requestId = `nul-${randomUUID().slice(0, 8)}`;
    const writes = [
      trail.record({
        action: 'test.poison',
        outcome: 'success',
        actorType: 'system',
        requestId,
        userAgent: 'ua\u0000\ud800x',
        scope: { ['k\u0000ey']: ['a\u0000b', { deep: 'x\udc00y' }] },
        details: { nested: { list: [1, 'c\u0000d', null, true], ['\ud83d']: 'lone high surrogate key' }, ok: '\ud83d\ude00' },
      }),
      ...Array.from({ length: 10 }, (_, i) => trail.record({ action: 'test.good', outcome: 'success', actorType: 'system', requestId: `${requestId}-${i}` })),
    ];
    await Promise.all(writes);
    const [row] = await h.auditEvents(requestId);
    expect(row.user_agent).toBe('uax');
    expect(row.scope).toEqual({ key: ['ab', { deep: 'xy' }] });
    expect(row.details).toEqual({ nested: { list: [1, 'cd', null, true], '': 'lone high surrogate key' }, ok: '\ud83d\ude00' });
  });

  describe('second line: a row the database refuses fails only its own caller', () => {
    afterEach(async () => {
      await h.db.query('ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS test_no_poison');
      await h.db.query('ALTER TABLE device_jti DROP CONSTRAINT IF EXISTS test_no_poison');
    });

    it('audit: the poisoned request gets 503, the 20 concurrent good ones 201 with their events', async () => {
      await h.db.query(`ALTER TABLE audit_event ADD CONSTRAINT test_no_poison CHECK (user_agent IS NULL OR user_agent NOT LIKE 'poison%') NOT VALID`);
      for (let round = 0; round < 3; round++) {
        const [poisonDevice, ...others] = devices;
        const poisoned = h.post('/v1/sessions', SESSION, { authorization: `Bearer ${poisonDevice.jwt()}`, 'user-agent': `poison-${round}` });
        const [poisonRes, ...results] = await Promise.all([poisoned, ...others.map((d) => h.issue(d))]);
        await expectAllIssued(results);
        expect(poisonRes.status).toBe(503);
        expect(poisonRes.headers['content-type']).toContain('application/problem+json');
        expect(poisonRes.body.type).toMatch(/audit-unavailable$/);
        expect(await h.auditEvents(requestIdOf(poisonRes))).toEqual([]);
      }
    });

    it('jti claims: a claim the database refuses fails only that device, over HTTP and when called directly', async () => {
      await h.db.query(`ALTER TABLE device_jti ADD CONSTRAINT test_no_poison CHECK (jti NOT LIKE 'poison%') NOT VALID`);
      for (let round = 0; round < 3; round++) {
        const [poisonDevice, ...others] = devices;
        const poisoned = h.issue(poisonDevice, undefined, poisonDevice.jwt({ jti: `poison-${randomUUID()}` }));
        const [poisonRes, ...results] = await Promise.all([poisoned, ...others.map((d) => h.issue(d))]);
        await expectAllIssued(results);
        expect(poisonRes.status).toBe(503);
        expect(poisonRes.headers['content-type']).toContain('application/problem+json');
      }
      // A NUL in a jti (refused as a data error by Postgres, 22021): only its own claim fails.
      await h.db.query('ALTER TABLE device_jti DROP CONSTRAINT test_no_poison');
      const guard = h.app.get(ReplayGuard);
      const expiresAt = new Date(Date.now() + 60_000);
      const claims = await Promise.allSettled([
        guard.claim(devices[0].deviceId, `bad\u0000${randomUUID()}`, expiresAt),
        ...devices.map((d) => guard.claim(d.deviceId, randomUUID(), expiresAt)),
      ]);
      expect(claims[0].status).toBe('rejected');
      expect(claims.slice(1)).toEqual(devices.map(() => ({ status: 'fulfilled', value: true })));
      // Repeats inside one batch are still told apart: only the first use is fresh.
      const jti = randomUUID();
      const twice = await Promise.all([guard.claim(devices[1].deviceId, jti, expiresAt), guard.claim(devices[1].deviceId, jti, expiresAt)]);
      expect(twice).toEqual([true, false]);
    });
  });
});
