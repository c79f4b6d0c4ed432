import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign, type SignOptions } from 'jsonwebtoken';
import { AUDIENCE, BrokerHarness, OPERATOR_AUDIENCE, OPERATOR_ISSUER, type HttpResult } from './support/broker-harness';

const ROUTE = '/v1/admin/terminals';

describe('operator authentication', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start();
  });

  afterAll(async () => {
    await h?.close();
  });

  const call = (token: string | undefined, path = ROUTE) => h.send('GET', path, undefined, token === undefined ? {} : { authorization: `Bearer ${token}` });

  function signed(claims: Record<string, unknown>, options: Partial<SignOptions> = {}, key: KeyObject | string = h.operatorKey.privateKey): string {
    const merged: SignOptions = { algorithm: 'ES256', subject: 'mallory', issuer: OPERATOR_ISSUER, audience: OPERATOR_AUDIENCE, expiresIn: 300, ...options };
    // An option given as undefined means "no such claim".
    for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k as keyof SignOptions];
    return sign({ roles: ['admin'], ...claims }, key, merged);
  }

  async function expectRefused(res: HttpResult, reason: string): Promise<void> {
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toBe('The credentials presented are missing, invalid or not accepted.');
    const events = await h.auditEvents(String(res.headers['x-request-id']));
    expect(events.map((e) => [e.action, e.outcome, e.reason])).toEqual([['auth.refused', 'denied', reason]]);
  }

  it('accepts an admin token from the identity provider (control)', async () => {
    const res = await call(h.operatorToken(['admin']));
    expect(res.status).toBe(200);
  });

  it('refuses a missing, expired, wrong-audience or wrong-issuer token', async () => {
    await expectRefused(await call(undefined), 'no-token');
    await expectRefused(await call(h.operatorToken(['admin'], { expiresInSeconds: -120 })), 'token-expired');
    await expectRefused(await call(h.operatorToken(['admin'], { audience: AUDIENCE })), 'wrong-audience');
    await expectRefused(await call(signed({}, { issuer: 'https://evil.example' })), 'wrong-issuer');
  });

  it('refuses other keys and algorithms', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await expectRefused(await call(signed({}, {}, other)), 'bad-signature');
    const publicPem = h.operatorKey.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await expectRefused(await call(signed({}, { algorithm: 'HS256' }, publicPem)), 'algorithm-refused');
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'mallory', roles: ['admin'], aud: OPERATOR_AUDIENCE, iss: OPERATOR_ISSUER, exp: now + 60 })}.`;
    await expectRefused(await call(unsigned), 'algorithm-refused');
  });

  it('refuses a token without subject or without expiry', async () => {
    await expectRefused(await call(signed({}, { subject: undefined })), 'claims-missing');
    await expectRefused(await call(signed({}, { expiresIn: undefined })), 'claims-missing');
  });

  it('refuses a device token on operator routes, and operator tokens on the device route', async () => {
    const device = await h.enrollDevice();
    await expectRefused(await call(device.jwt()), 'bad-signature');
    // Even naming a real device, with the devices' audience: the operator key is no device key.
    const asDevice = signed({ jti: randomUUID() }, { subject: device.deviceId, audience: AUDIENCE, expiresIn: 60 });
    const res = await h.issue(device, undefined, asDevice);
    expect(res.status).toBe(401);
    const plain = await h.issue(device, undefined, h.operatorToken(['admin', 'auditor']));
    expect(plain.status).toBe(401);
    expect(plain.body.sessionId).toBeUndefined();
    const events = await h.auditEvents(String(plain.headers['x-request-id']));
    expect(events.map((e) => [e.action, e.reason])).toEqual([['auth.refused', 'unknown-device']]);
  });

  it('forbids (403) an operator without a role of the route, and records it', async () => {
    for (const roles of [[], ['superuser'], ['auditor']]) {
      const res = await h.send('POST', ROUTE, {}, { authorization: `Bearer ${h.operatorToken(roles, { subject: 'dave' })}` });
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      const [event] = await h.auditEvents(String(res.headers['x-request-id']));
      expect([event.action, event.outcome, event.reason, event.actor_id]).toEqual(['auth.forbidden', 'denied', 'missing-role', 'dave']);
    }
  });

  it('reads roles given as one space-separated string', async () => {
    const res = await call(signed({ roles: 'auditor admin' }));
    expect(res.status).toBe(200);
  });
});

describe('operator keys from a JWKS endpoint', () => {
  let h: BrokerHarness;
  let jwks: Server;
  let served: Array<{ kid: string; key: KeyObject }>;
  let fetches = 0;
  let down = false;
  const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
  const first = { kid: 'k1', ...rsa() };
  const second = { kid: 'k2', ...rsa() };
  const never = { kid: 'k3', ...rsa() };

  beforeAll(async () => {
    served = [{ kid: first.kid, key: first.publicKey }];
    jwks = createServer((_req, res) => {
      fetches++;
      if (down) {
        res.writeHead(503).end();
        return;
      }
      const keys = served.map(({ kid, key }) => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    h = await BrokerHarness.start({ OPERATOR_JWKS_URI: url, OPERATOR_JWT_PUBLIC_KEY: '', OPERATOR_JWT_ALGORITHMS: 'RS256' });
  });

  afterAll(async () => {
    await h?.close();
    await new Promise((r) => jwks?.close(r));
  });

  const token = (k: { kid: string; privateKey: KeyObject }, roles = ['admin']) =>
    sign({ roles }, k.privateKey, { algorithm: 'RS256', keyid: k.kid, subject: 'erin', issuer: OPERATOR_ISSUER, audience: OPERATOR_AUDIENCE, expiresIn: 300 });
  const call = (t: string) => h.send('GET', ROUTE, undefined, { authorization: `Bearer ${t}` });

  it('verifies with the published key, cached', async () => {
    expect((await call(token(first))).status).toBe(200);
    const after = fetches;
    expect((await call(token(first))).status).toBe(200);
    expect(fetches).toBe(after);
  });

  it('refetches the keys on an unknown kid (the identity provider rotated)', async () => {
    served = [
      { kid: first.kid, key: first.publicKey },
      { kid: second.kid, key: second.publicKey },
    ];
    const before = fetches;
    expect((await call(token(second))).status).toBe(200);
    expect(fetches).toBe(before + 1);
  });

  it('refuses a kid the endpoint does not publish (401), and answers 503 when the endpoint is down', async () => {
    const res = await call(token(never));
    expect(res.status).toBe(401);
    const [event] = await h.auditEvents(String(res.headers['x-request-id']));
    expect([event.action, event.reason]).toEqual(['auth.refused', 'unknown-kid']);
    down = true;
    try {
      const unavailable = await call(token({ ...never, kid: 'k4' }));
      expect(unavailable.status).toBe(503);
      expect(unavailable.headers['retry-after']).toBeDefined();
      // Keys already fetched keep working while the endpoint is down.
      expect((await call(token(first))).status).toBe(200);
    } finally {
      down = false;
    }
  });

  it('refuses an algorithm outside OPERATOR_JWT_ALGORITHMS before any key look-up', async () => {
    const before = fetches;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const res = await call(
      sign({ roles: ['admin'] }, ec.privateKey, {
        algorithm: 'ES256',
        keyid: 'k9',
        subject: 'erin',
        issuer: OPERATOR_ISSUER,
        audience: OPERATOR_AUDIENCE,
        expiresIn: 60,
      }),
    );
    expect(res.status).toBe(401);
    expect(fetches).toBe(before);
  });
});
