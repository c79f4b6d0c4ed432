import { createServer, connect, type Server, type Socket } from 'node:net';
import Redis from 'ioredis';
import { BrokerHarness, SECOND_TERMINAL, TERMINAL, type TestDevice } from './support/broker-harness';

const REDIS_URL = new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');

/**
 * A TCP relay between the broker and Redis that records the names of the commands the broker
 * sends (RESP arrays), so a test can tell how many Redis round trips one request takes.
 */
class CountingRedisRelay {
  commands: string[] = [];
  private server!: Server;
  private readonly sockets = new Set<Socket>();

  async start(): Promise<string> {
    this.server = createServer((client) => {
      const upstream = connect(Number(REDIS_URL.port || 6379), REDIS_URL.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
      }
      client.on('data', (chunk: Buffer) => {
        for (const m of chunk.toString('latin1').matchAll(/(?:^|\r\n)\*\d+\r\n\$\d+\r\n([a-z]+)\r\n/gi)) this.commands.push(m[1].toLowerCase());
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => client.write(chunk));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    return `redis://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

describe('device rate limits counted in Redis', () => {
  const relay = new CountingRedisRelay();
  let h: BrokerHarness;
  let device: TestDevice;
  const LIMIT = 4;

  beforeAll(async () => {
    const url = await relay.start();
    h = await BrokerHarness.start({
      REDIS_URL: url,
      DEVICE_RATE_LIMIT_PER_MINUTE: String(LIMIT),
      // The terminal and global counters are shared with other test files on this Redis: out of the way.
      TERMINAL_RATE_LIMIT_PER_MINUTE: '1000000',
      GLOBAL_RATE_LIMIT_PER_SECOND: '1000000',
    });
    device = await h.enrollDevice(undefined, [TERMINAL, SECOND_TERMINAL]);
  });
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
    await relay.close();
  });

  it('claims the jti and checks every limit of a session request in one Redis round trip', async () => {
    const other = await h.enrollDevice();
    // The first request may load the script (EVALSHA answered NOSCRIPT, then EVAL): not counted.
    expect((await h.issue(other)).status).toBe(201);
    const before = relay.commands.length;
    for (let i = 0; i < 3; i++) expect((await h.issue(other)).status).toBe(201);
    // Was: SET NX for the jti, then one EVAL per limit (device, terminal, global).
    expect(relay.commands.slice(before)).toEqual(['evalsha', 'evalsha', 'evalsha']);
  });

  it('answers the request over the device limit 429 problem+json with Retry-After, without calling the gateway', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i++) statuses.push((await h.issue(device)).status);
    expect(statuses).toEqual(new Array(LIMIT).fill(201));

    const calls = h.sandbox.stats.getSessionId;
    const refused = await h.issue(device, { terminalNumber: SECOND_TERMINAL });
    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ status: 429, code: 'rate-limited' });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(h.sandbox.stats.getSessionId).toBe(calls);
    expect(await h.metrics()).toMatch(/broker_rate_limit_rejections_total\{limit="device"\} [1-9]/);
  });

  it('keeps the count in Redis under the same keys as before, so instances of either version share it', async () => {
    const redis = new Redis(REDIS_URL.href);
    try {
      const hits = await redis.get(`{device:${device.deviceId}:device}:hits`);
      expect(Number(hits)).toBeGreaterThanOrEqual(LIMIT);
      expect(await redis.pttl(`{device:${device.deviceId}:device}:hits`)).toBeGreaterThan(0);
      expect(await redis.exists(`{device:${device.deviceId}:device}:blocked`)).toBe(1);
    } finally {
      redis.disconnect();
    }
  });

  it('still refuses a replayed token (the jti claim is unaffected)', async () => {
    const other = await h.enrollDevice();
    const token = other.jwt();
    expect((await h.issue(other, undefined, token)).status).toBe(201);
    const replay = await h.issue(other, undefined, token);
    expect(replay.status).toBe(401);
  });
});
