import { BrokerHarness } from './support/broker-harness';

/** Redis holds the operator limit's counters: when it cannot be reached, operator routes answer 503 like the device route. */
describe('operator routes while Redis is unreachable', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    // Nothing listens on port 1: every Redis command fails.
    h = await BrokerHarness.start({ REDIS_URL: 'redis://127.0.0.1:1' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers 503 problem+json with Retry-After, never 500', async () => {
    for (const [method, path] of [
      ['GET', '/v1/admin/terminals'],
      ['GET', '/v1/audit/events'],
    ] as const) {
      const res = await h.send(method, path, undefined, { authorization: `Bearer ${h.operatorToken(['admin', 'auditor'])}` });
      expect([path, res.status]).toEqual([path, 503]);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.body).toMatchObject({ status: 503, code: 'dependency-unavailable' });
    }
  });

  it('still refuses a missing token with 401 (the refusal counter being down changes nothing)', async () => {
    const res = await h.send('GET', '/v1/admin/terminals');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
