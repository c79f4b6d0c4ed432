import { randomBytes } from 'node:crypto';
import { validateConfig } from '../src/config/config.schema';
import { BrokerHarness } from './support/broker-harness';
import { client } from './support/local-client';

const ROUTE = '/v1/admin/terminals';

/**
 * X-Forwarded-For is believed from the configured proxies only (TRUSTED_PROXIES): from anyone
 * else it is ignored, so a client cannot choose the address the audit trail records, nor dodge
 * the per-address limits by writing a new one on each request.
 */
describe('trusted proxies', () => {
  let h: BrokerHarness;
  const PROXY = '127.0.0.1';
  const STRANGER = '127.0.0.2';

  beforeAll(async () => {
    h = await BrokerHarness.start({ TRUSTED_PROXIES: `${PROXY}, 10.0.0.0/8`, AUTH_FAILURE_LIMIT_PER_MINUTE: '5' });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function clientIpOf(from: string, forwardedFor: string): Promise<string | null> {
    const c = client(from);
    try {
      const res = await c.send(h.baseUrl, 'GET', ROUTE, { 'x-forwarded-for': forwardedFor });
      expect(res.status).toBe(401);
      const [event] = await h.auditEvents(String(res.headers['x-request-id']));
      return event.client_ip;
    } finally {
      await c.close();
    }
  }

  it('takes the client address from X-Forwarded-For when a trusted proxy sends it', async () => {
    expect(await clientIpOf(PROXY, '203.0.113.7')).toBe('203.0.113.7');
    // The proxy appends the address it saw: the rightmost untrusted hop is the client, not what the client wrote.
    expect(await clientIpOf(PROXY, '198.51.100.1, 203.0.113.8')).toBe('203.0.113.8');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    expect(await clientIpOf(STRANGER, '203.0.113.9')).toBe(STRANGER);
  });

  it('a client cannot dodge the per-address refusal limit with a new X-Forwarded-For each time', async () => {
    const c = client('127.0.0.3');
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const spoofed = `198.18.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
        statuses.push((await c.send(h.baseUrl, 'GET', ROUTE, { 'x-forwarded-for': spoofed })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    } finally {
      await c.close();
    }
  });

  it('parses TRUSTED_PROXIES in the configuration and refuses the old TRUST_PROXY', () => {
    expect(validateConfig({ TRUSTED_PROXIES: ' 10.0.0.0/8, 192.168.1.10 ,::1, fd00::/8' }).TRUSTED_PROXIES).toEqual([
      '10.0.0.0/8',
      '192.168.1.10',
      '::1',
      'fd00::/8',
    ]);
    expect(validateConfig({}).TRUSTED_PROXIES).toEqual([]);
    for (const bad of ['true', '10.0.0.0/33', '300.1.1.1', 'proxy.internal', '10.0.0.0/8/1', '::1/129']) {
      expect(() => validateConfig({ TRUSTED_PROXIES: bad })).toThrow(/TRUSTED_PROXIES/);
    }
    expect(() => validateConfig({ TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY: is replaced by TRUSTED_PROXIES/);
  });
});
