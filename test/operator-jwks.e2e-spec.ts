import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign } from 'jsonwebtoken';
import { BrokerHarness, OPERATOR_AUDIENCE, OPERATOR_ISSUER } from './support/broker-harness';

const ROUTE = '/v1/admin/terminals';
const INTERVAL_MS = 1_500;
const MAX_AGE_MS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The identity provider's JWKS under hostile traffic: junk `kid`s must not use up the refetch
 * budget of real operators, and an unreachable identity provider must not lock out operators
 * whose keys are already known.
 */
describe('operator JWKS under hostile traffic', () => {
  let h: BrokerHarness;
  let jwks: Server;
  let served: Array<{ kid: string; key: KeyObject }>;
  let fetches = 0;
  let down = false;
  const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
  const first = { kid: 'k1', ...rsa() };
  const rotated = { kid: 'k2', ...rsa() };
  const junkKey = rsa();

  beforeAll(async () => {
    served = [{ kid: first.kid, key: first.publicKey }];
    jwks = createServer((_req, res) => {
      fetches++;
      if (down) {
        res.destroy();
        return;
      }
      const keys = served.map(({ kid, key }) => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    h = await BrokerHarness.start({
      OPERATOR_JWKS_URI: url,
      OPERATOR_JWT_PUBLIC_KEY: '',
      OPERATOR_JWT_ALGORITHMS: 'RS256',
      OPERATOR_JWKS_REFETCH_INTERVAL_MS: String(INTERVAL_MS),
      OPERATOR_JWKS_CACHE_MAX_AGE_MS: String(MAX_AGE_MS),
    });
  });

  afterAll(async () => {
    await h?.close();
    await new Promise((r) => jwks?.close(r));
  });

  const token = (kid: string, key: KeyObject) =>
    sign({ roles: ['admin'] }, key, { algorithm: 'RS256', keyid: kid, subject: 'erin', issuer: OPERATOR_ISSUER, audience: OPERATOR_AUDIENCE, expiresIn: 300 });
  const call = (t: string) => h.send('GET', ROUTE, undefined, { authorization: `Bearer ${t}` });

  it('a flood of random-kid tokens costs one fetch per interval and cannot lock out a key rotated in', async () => {
    expect((await call(token(first.kid, first.privateKey))).status).toBe(200);
    await sleep(INTERVAL_MS + 100);

    const before = fetches;
    const started = Date.now();
    const flood: number[] = [];
    for (let round = 0; round < 4; round++) {
      const answers = await Promise.all(Array.from({ length: 15 }, () => call(token(randomBytes(8).toString('hex'), junkKey.privateKey))));
      flood.push(...answers.map((a) => a.status));
    }
    const elapsed = Date.now() - started;
    expect(new Set(flood)).toEqual(new Set([401]));
    // jwks-rsa fetched on each of the first 10 junk kids (its per-minute budget), then refused everything.
    expect(fetches - before).toBeLessThanOrEqual(Math.floor(elapsed / INTERVAL_MS) + 1);

    // The identity provider rotates: the new key is found once the interval since the last fetch is over.
    served = [...served, { kid: rotated.kid, key: rotated.publicKey }];
    await sleep(INTERVAL_MS + 100);
    const concurrent = fetches;
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(token(rotated.kid, rotated.privateKey))));
    expect(answers.map((a) => a.status)).toEqual(new Array(10).fill(200));
    // Ten callers with the same unknown kid at once: one fetch between them (single-flight).
    expect(fetches - concurrent).toBe(1);
  });

  it('never fetches the keys for a token its claims refuse anyway', async () => {
    await sleep(INTERVAL_MS + 100);
    const before = fetches;
    const junk = (options: object) =>
      sign({ roles: ['admin'] }, junkKey.privateKey, {
        algorithm: 'RS256',
        keyid: randomBytes(8).toString('hex'),
        subject: 'mallory',
        issuer: OPERATOR_ISSUER,
        audience: OPERATOR_AUDIENCE,
        expiresIn: 300,
        ...options,
      });
    const answers = await Promise.all([
      call(junk({ issuer: 'https://evil.example' })),
      call(junk({ audience: 'someone-else' })),
      call(junk({ expiresIn: -600 })),
    ]);
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401]);
    const reasons = await Promise.all(answers.map(async (a) => (await h.auditEvents(String(a.headers['x-request-id'])))[0]?.reason));
    expect(reasons).toEqual(['wrong-issuer', 'wrong-audience', 'token-expired']);
    expect(fetches).toBe(before);
  });

  it('keeps serving cached keys past their age while the identity provider is unreachable', async () => {
    down = true;
    try {
      await sleep(Math.max(INTERVAL_MS, MAX_AGE_MS) + 100);
      const before = fetches;
      const res = await call(token(first.kid, first.privateKey));
      expect(res.status).toBe(200);
      expect(fetches).toBe(before + 1); // it did try: the cache was past its age
      expect((await call(token(rotated.kid, rotated.privateKey))).status).toBe(200);
      // A kid nobody published, while the keys cannot be fetched: not the caller's fault, 503.
      await sleep(INTERVAL_MS + 100);
      const unknown = await call(token('never-published', junkKey.privateKey));
      expect(unknown.status).toBe(503);
      expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(unknown.headers['retry-after']).toBeDefined();
    } finally {
      down = false;
    }
  });
});
