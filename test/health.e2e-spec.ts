import { request } from 'undici';
import { BrokerHarness } from './support/broker-harness';
import { TcpProxy } from './support/tcp-proxy';

async function get(url: string) {
  const res = await request(url);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, Record<string, Record<string, unknown>>> };
}

describe('health', () => {
  const proxy = new TcpProxy('127.0.0.1', 5432);
  let h: BrokerHarness;

  beforeAll(async () => {
    await proxy.start();
    // Redis "configured" on a closed port: readiness must name it as down.
    h = await BrokerHarness.start({ REDIS_URL: 'redis://127.0.0.1:1' }, (url) => {
      const u = new URL(url);
      u.port = String(proxy.port);
      return u.toString();
    });
  });
  afterAll(async () => {
    await h.close();
    await proxy.stop();
  });

  it('is live, and ready reports each dependency by name', async () => {
    expect((await get(`${h.baseUrl}/health/live`)).status).toBe(200);
    const ready = await get(`${h.baseUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.details.database.status).toBe('up');
    expect(ready.body.details.secrets.status).toBe('up');
    expect(ready.body.details.gateways.status).toBe('up');
    expect(ready.body.details.redis.status).toBe('down');
    expect(ready.body.error).toHaveProperty('redis');
  });

  it('names the database when it is down', async () => {
    const down = proxy.restart(3_000);
    await new Promise((r) => setTimeout(r, 100));
    const ready = await get(`${h.baseUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.details.database.status).toBe('down');
    await down;
  });
});
