import { NestFactory } from '@nestjs/core';
import { request } from 'undici';
import { AppModule } from '../src/app.module';
import { MetricsServer } from '../src/metrics/metrics.controller';
import { LogCapture } from './support/log-capture';
import { BrokerHarness } from './support/broker-harness';

/**
 * Limits and log redaction follow the route a request reached, not how its path was spelled:
 * Fastify decodes /v1/%61dmin/... to /v1/admin/..., and so must everything that looks at paths.
 */
describe('routes matched by pattern, not by the raw URL', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ OPERATOR_RATE_LIMIT_PER_MINUTE: '4' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('counts percent-encoded admin paths against the operator limit', async () => {
    const auth = { authorization: `Bearer ${h.operatorToken(['admin'], { subject: 'encoded@example.com' })}` };
    const statuses: number[] = [];
    for (const path of [
      '/v1/admin/terminals',
      '/v1/%61dmin/terminals',
      '/v1/%61%64%6d%69%6e/terminals',
      '/v1/admin/terminals',
      '/v1/%61dmin/terminals',
      '/v1/%61dmin/terminals',
    ]) {
      statuses.push((await h.send('GET', path, undefined, auth)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it('never logs the sessionId of DELETE /v1/%73essions/{sessionId}', async () => {
    const device = await h.enrollDevice();
    const issued = await h.issue(device);
    expect(issued.status).toBe(201);
    const sessionId = String(issued.body.sessionId);
    for (const path of [`/v1/%73essions/${sessionId}`, `/v1/%73%65ssions/${encodeURIComponent(sessionId)}`, `/v1/sessions/${sessionId}`]) {
      const res = await h.send('DELETE', path, undefined, { authorization: `Bearer ${device.jwt()}` });
      expect(res.status).toBeLessThan(500);
    }
    // Not even for a path no route matches.
    await h.send('GET', `/v1/%73essions/${sessionId}/nothing-here`);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.logs.text).not.toContain(sessionId);
    const deleted = h.logs.parsed().filter((l) => (l.req as { method?: string } | undefined)?.method === 'DELETE');
    expect(deleted.map((l) => (l.req as { url: string }).url)).toEqual(new Array(3).fill('/v1/sessions/[redacted]'));
    await h.expectNoSecretsLeaked();
  });

  it('serves /metrics only on the metrics port, however the path is spelled', async () => {
    for (const path of ['/metrics', '/%6detrics', '/%6D%65trics']) {
      const res = await request(`${h.baseUrl}${path}`);
      await res.body.dump();
      expect([path, res.statusCode]).toEqual([path, 404]);
    }
    expect(await h.metrics()).toMatch(/^# HELP /m);
  });

  it('does not open the metrics port for a CLI command (application context without HTTP)', async () => {
    const ctx = await NestFactory.createApplicationContext(AppModule.forRoot({ env: h.appEnv, logDestination: new LogCapture() }), { logger: false });
    try {
      expect(ctx.get(MetricsServer).url()).toBeUndefined();
    } finally {
      await ctx.close();
    }
  });
});

describe('operator limit per operator', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ OPERATOR_RATE_LIMIT_PER_MINUTE: '3' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('gives two operators behind one address each their own budget', async () => {
    const as = (subject: string) => ({ authorization: `Bearer ${h.operatorToken(['admin'], { subject })}` });
    const calls = async (subject: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await h.send('GET', '/v1/admin/terminals', undefined, as(subject))).status);
      return out;
    };
    expect(await calls('alice@example.com', 4)).toEqual([200, 200, 200, 429]);
    expect(await calls('bob@example.com', 3)).toEqual([200, 200, 200]);
    const limited = await h.send('GET', '/v1/audit/events', undefined, as('alice@example.com'));
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});
