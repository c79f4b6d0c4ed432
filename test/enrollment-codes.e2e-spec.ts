import { generateKeyPairSync, randomInt, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { AUDIENCE, BrokerHarness, SECOND_TERMINAL, TERMINAL, type HttpResult } from './support/broker-harness';

const RATE_LIMIT = 6;
const POLICY = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] };
const SESSION = { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } };
const CODE_FORMAT = /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}$/;

type Kind = 'ES256' | 'EdDSA';
function deviceKey(kind: Kind = 'ES256') {
  const pair = kind === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return {
    kind,
    ...pair,
    jwk: pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
    pem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function deviceJwt(key: { kind: Kind; privateKey: KeyObject }, deviceId: string, kid: string): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: deviceId, aud: AUDIENCE, iat: now, exp: now + 60, jti: randomUUID() };
  if (key.kind === 'ES256') return sign(payload, key.privateKey, { algorithm: 'ES256', keyid: kid });
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'EdDSA', typ: 'JWT', kid })}.${b64(payload)}`;
  return `${input}.${cryptoSign(null, Buffer.from(input), key.privateKey).toString('base64url')}`;
}

/** Every attempt from its own address (X-Forwarded-For from a trusted proxy), so only the rate-limit test meets the limit. */
const freshIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

describe('one-time enrollment codes', () => {
  let h: BrokerHarness;
  const codes: string[] = [];
  const attempts: HttpResult[] = [];

  const admin = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, roles = ['admin']) =>
    h.send(method, path, body, { authorization: `Bearer ${h.operatorToken(roles, { subject: 'erin@example.com' })}` });

  async function createCode(body: object = {}): Promise<HttpResult & { code: string; id: string }> {
    const res = await admin('POST', '/v1/admin/enrollment-codes', { terminalNumbers: [TERMINAL], policy: POLICY, ...body });
    expect(res.status).toBe(201);
    const code = res.body.code as string;
    codes.push(code);
    h.secretsSeen.add(code);
    h.secretsSeen.add(code.replace(/-/g, ''));
    return { ...res, code, id: res.body.id as string };
  }

  async function redeem(body: unknown, ip = freshIp()): Promise<HttpResult> {
    const res = await h.send('POST', '/v1/enrollments', body, { 'x-forwarded-for': ip });
    attempts.push(res);
    return res;
  }

  const events = (res: HttpResult) => h.auditEvents(String(res.headers['x-request-id']));
  async function refusal(res: HttpResult): Promise<string | null> {
    const found = await events(res);
    expect(found.map((e) => e.action)).toEqual(['enrollment.refused']);
    return found[0].reason;
  }
  const codeRow = (id: string) => h.db.query<{ uses: number }>('SELECT uses FROM enrollment_code WHERE id = $1', [id]).then((r) => r[0]);

  beforeAll(async () => {
    h = await BrokerHarness.start({ TRUSTED_PROXIES: '127.0.0.1', ENROLLMENT_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT) });
  });

  afterAll(async () => {
    if (h) {
      // Every attempt left exactly one event: the device's enrollment or the refusal.
      for (const res of attempts) {
        const actions = (await events(res)).map((e) => e.action);
        expect(actions).toEqual([res.status === 201 ? 'device.enrolled' : 'enrollment.refused']);
      }
      await h.expectNoSecretsLeaked();
      const stored = JSON.stringify(await h.db.query('SELECT * FROM enrollment_code'));
      for (const code of codes) expect(stored).not.toContain(code.replace(/-/g, ''));
    }
    await h?.close();
  });

  it('creates a code shown once, which a device redeems for the terminals and policy, then gets a session with its own key', async () => {
    const created = await createCode({ name: 'store 12 till', terminalNumbers: [SECOND_TERMINAL, TERMINAL] });
    expect(created.code).toMatch(CODE_FORMAT);
    expect(created.headers['cache-control']).toBe('no-store');
    expect(created.body).toMatchObject({
      name: 'store 12 till',
      status: 'pending',
      maxUses: 1,
      uses: 0,
      terminalNumbers: [TERMINAL, SECOND_TERMINAL],
      policy: POLICY,
    });
    const lifetime = Date.parse(created.body.expiresAt as string) - Date.now();
    expect(lifetime).toBeGreaterThan(890_000);
    expect(lifetime).toBeLessThanOrEqual(900_000);
    expect(created.body.enrollUrl).toBe(`${h.baseUrl}/v1/enrollments#code=${created.code}`);
    const [createdEvent] = await events(created);
    expect([createdEvent.action, createdEvent.actor_id]).toEqual(['admin.code-created', 'erin@example.com']);
    expect(createdEvent.details).toMatchObject({ enrollmentCodeId: created.id, after: { maxUses: 1, terminalNumbers: [TERMINAL, SECOND_TERMINAL] } });

    const key = deviceKey('ES256');
    const res = await redeem({ code: created.code, publicKey: key.jwk, name: 'till 1', softwareVersion: '1.4.2' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ alg: 'ES256', terminalNumbers: [TERMINAL, SECOND_TERMINAL], audience: AUDIENCE });
    const deviceId = res.body.deviceId as string;
    const [enrolled] = await events(res);
    expect(enrolled.action).toBe('device.enrolled');
    expect(enrolled.actor_id).toBe(`enrollment-code:${created.id}`);

    const device = await admin('GET', `/v1/admin/devices/${deviceId}`);
    expect(device.body).toMatchObject({ name: 'till 1', status: 'active', policy: POLICY, terminalNumbers: [TERMINAL, SECOND_TERMINAL] });
    const session = await h.post('/v1/sessions', SESSION, { authorization: `Bearer ${deviceJwt(key, deviceId, res.body.keyId as string)}` });
    expect(session.status).toBe(201);

    const list = await admin('GET', '/v1/admin/enrollment-codes?status=used');
    expect(list.status).toBe(200);
    expect((list.body.items as Array<{ id: string }>).map((c) => c.id)).toContain(created.id);
    expect(list.text).not.toContain(created.code);
    expect(list.text).not.toContain(created.code.replace(/-/g, ''));
  });

  it('enrolls an Ed25519 key sent as PEM', async () => {
    const { code } = await createCode();
    const key = deviceKey('EdDSA');
    const res = await redeem({ code, publicKey: key.pem });
    expect(res.status).toBe(201);
    expect(res.body.alg).toBe('EdDSA');
    const session = await h.post('/v1/sessions', SESSION, { authorization: `Bearer ${deviceJwt(key, res.body.deviceId as string, res.body.keyId as string)}` });
    expect(session.status).toBe(201);
  });

  it('lets maxUses devices enroll and no more', async () => {
    const { code, id } = await createCode({ maxUses: 3 });
    for (let i = 0; i < 3; i++) expect((await redeem({ code, publicKey: deviceKey().jwk })).status).toBe(201);
    const fourth = await redeem({ code, publicKey: deviceKey().jwk });
    expect(fourth.status).toBe(400);
    expect(await refusal(fourth)).toBe('used-up');
    expect(await codeRow(id)).toEqual({ uses: 3 });
    const devices = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_event WHERE action = 'device.enrolled' AND actor_id = $1`, [
      `enrollment-code:${id}`,
    ]);
    expect(devices).toEqual([{ n: 3 }]);
  });

  it('answers one generic problem for unknown, expired, revoked, used-up and mistyped codes; the trail has the reason', async () => {
    const unknownCode = (await createCode()).code; // becomes unknown below: its row is never stored elsewhere
    await h.db.query('DELETE FROM enrollment_code WHERE id = (SELECT id FROM enrollment_code ORDER BY created_at DESC LIMIT 1)');
    const expired = await createCode();
    await h.db.query(`UPDATE enrollment_code SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    const revoked = await createCode();
    const revocation = await admin('DELETE', `/v1/admin/enrollment-codes/${revoked.id}`);
    expect(revocation.status).toBe(200);
    expect(revocation.body).toMatchObject({ id: revoked.id, status: 'revoked' });
    const used = await createCode();
    expect((await redeem({ code: used.code, publicKey: deviceKey().jwk })).status).toBe(201);
    const typo = await createCode();
    const plain = typo.code.replace(/-/g, '');
    const swapped = plain[0] === 'A' ? `B${plain.slice(1)}` : `A${plain.slice(1)}`;

    const cases: Array<[string, string]> = [
      [unknownCode, 'unknown-code'],
      [expired.code, 'expired'],
      [revoked.code, 'revoked'],
      [used.code, 'used-up'],
      [swapped, 'bad-checksum'],
      ['hello', 'malformed-code'],
    ];
    const answers: unknown[] = [];
    for (const [code, reason] of cases) {
      const res = await redeem({ code, publicKey: deviceKey().jwk });
      expect(res.status).toBe(400);
      expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
      expect(await refusal(res)).toBe(reason);
      const { type, title, status, detail, code: problemCode } = res.body;
      answers.push({ type, title, status, detail, problemCode });
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toMatchObject({ status: 400, problemCode: 'enrollment-code-refused' });
    // The expired code still works for nothing even after another try; the list shows each state.
    const list = await admin('GET', '/v1/admin/enrollment-codes?limit=100');
    const statusOf = (id: string) => (list.body.items as Array<{ id: string; status: string }>).find((c) => c.id === id)?.status;
    expect([statusOf(expired.id), statusOf(revoked.id), statusOf(used.id), statusOf(typo.id)]).toEqual(['expired', 'revoked', 'used', 'pending']);
    for (const status of ['expired', 'revoked', 'used', 'pending']) {
      const page = await admin('GET', `/v1/admin/enrollment-codes?status=${status}&limit=100`);
      expect((page.body.items as Array<{ status: string }>).every((c) => c.status === status)).toBe(true);
    }
  });

  it('normalises case, spaces and dashes before comparing', async () => {
    const { code } = await createCode();
    const typed = ` ${code.toLowerCase().replace(/-/g, ' ')} `;
    expect((await redeem({ code: typed, publicKey: deviceKey().jwk })).status).toBe(201);
    const other = await createCode();
    const squashed = other.code.replace(/-/g, '').toLowerCase();
    const spaced = `${squashed.slice(0, 3)}-${squashed.slice(3, 9)}--${squashed.slice(9)}`;
    expect((await redeem({ code: spaced, publicKey: deviceKey().jwk })).status).toBe(201);
  });

  it('refuses a malformed JWK, a key of the wrong curve and a private key with 400, without using the code', async () => {
    const { code, id } = await createCode();
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'jwk' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const privateJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    const bad: unknown[] = [
      { kty: 'EC', crv: 'P-256', x: 'not-base64', y: '!!' },
      { kty: 'OKP', crv: 'Ed25519' },
      p384,
      secp256k1,
      rsa,
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
      privateJwk,
      42,
    ];
    for (const publicKey of bad) {
      const res = await redeem({ code, publicKey });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('invalid-request');
      expect(['invalid-public-key', 'invalid-request']).toContain(await refusal(res));
    }
    expect((await redeem({ code, publicKey: p384 })).body.detail).toMatch(/P-256|Ed25519/);
    expect((await redeem({ code })).status).toBe(400);
    expect((await redeem({ code, publicKey: deviceKey().jwk, extra: 1 })).status).toBe(400);
    expect((await redeem([code])).status).toBe(400);
    expect(await codeRow(id)).toEqual({ uses: 0 });
    expect((await redeem({ code, publicKey: deviceKey().jwk })).status).toBe(201);
  });

  it('refuses a public key already enrolled with 409, without using the code', async () => {
    const first = await createCode();
    const key = deviceKey();
    expect((await redeem({ code: first.code, publicKey: key.jwk })).status).toBe(201);
    const second = await createCode();
    const again = await redeem({ code: second.code, publicKey: key.pem });
    expect(again.status).toBe(409);
    expect(await refusal(again)).toBe('key-already-enrolled');
    expect(await codeRow(second.id)).toEqual({ uses: 0 });
  });

  it('lets exactly one of 20 concurrent redemptions of a one-use code win', async () => {
    const { code, id } = await createCode();
    const results = await Promise.all(Array.from({ length: 20 }, () => redeem({ code, publicKey: deviceKey().jwk })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 400)).toHaveLength(19);
    expect(await codeRow(id)).toEqual({ uses: 1 });
    const enrolled = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_event WHERE action = 'device.enrolled' AND actor_id = $1`, [
      `enrollment-code:${id}`,
    ]);
    expect(enrolled).toEqual([{ n: 1 }]);
    for (const loser of results.filter((r) => r.status === 400)) expect(await refusal(loser)).toBe('used-up');
  });

  it('limits attempts per client IP with 429 and Retry-After, and records the refused ones', async () => {
    const ip = freshIp();
    const guesses: HttpResult[] = [];
    for (let i = 0; i < RATE_LIMIT + 3; i++) guesses.push(await redeem({ code: `AAAA-BBBB-CCCC-${i}`, publicKey: deviceKey().jwk }, ip));
    expect(guesses.slice(0, RATE_LIMIT).map((r) => r.status)).toEqual(new Array(RATE_LIMIT).fill(400));
    const limited = guesses.slice(RATE_LIMIT);
    expect(limited.map((r) => r.status)).toEqual([429, 429, 429]);
    expect(Number(limited[0].headers['retry-after'])).toBeGreaterThan(0);
    expect(String(limited[0].headers['content-type'])).toMatch(/^application\/problem\+json/);
    expect(await refusal(limited[0])).toBe('rate-limited');
    // A valid code from the limited address waits too; from another address it works.
    const { code } = await createCode();
    expect((await redeem({ code, publicKey: deviceKey().jwk }, ip)).status).toBe(429);
    expect((await redeem({ code, publicKey: deviceKey().jwk })).status).toBe(201);
  });

  it('validates the admin input and keeps the admin routes to admins', async () => {
    const bad = [
      { terminalNumbers: [] },
      { terminalNumbers: ['12345'] },
      { terminalNumbers: ['0000000001'] },
      { terminalNumbers: [TERMINAL], expiresInSeconds: 59 },
      { terminalNumbers: [TERMINAL], expiresInSeconds: 86_401 },
      { terminalNumbers: [TERMINAL], maxUses: 0 },
      { terminalNumbers: [TERMINAL], maxUses: 1_001 },
      { terminalNumbers: [TERMINAL], code: 'AAAA-BBBB-CCCC-DD' },
    ];
    for (const body of bad) expect((await admin('POST', '/v1/admin/enrollment-codes', body)).status).toBe(400);
    const batch = await createCode({ maxUses: 1_000, expiresInSeconds: 86_400 });
    expect(batch.body).toMatchObject({ maxUses: 1_000 });
    expect((await admin('POST', '/v1/admin/enrollment-codes', { terminalNumbers: [TERMINAL] }, ['auditor'])).status).toBe(403);
    expect((await admin('DELETE', `/v1/admin/enrollment-codes/${batch.id}`, undefined, ['auditor'])).status).toBe(403);
    expect((await admin('GET', '/v1/admin/enrollment-codes', undefined, ['auditor'])).status).toBe(200);
    expect((await h.send('GET', '/v1/admin/enrollment-codes')).status).toBe(401);
    expect((await admin('DELETE', `/v1/admin/enrollment-codes/${randomUUID()}`)).status).toBe(404);
    expect((await admin('DELETE', '/v1/admin/enrollment-codes/nope')).status).toBe(400);
    expect((await admin('GET', '/v1/admin/enrollment-codes?status=lost')).status).toBe(400);
    const revoked = await admin('DELETE', `/v1/admin/enrollment-codes/${batch.id}`);
    const [event] = await events(revoked);
    expect([event.action, event.actor_id]).toEqual(['admin.code-revoked', 'erin@example.com']);
    expect(event.details).toMatchObject({ enrollmentCodeId: batch.id });
  });
});

describe('enrollment attempts limited per IP across instances (Redis)', () => {
  let a: BrokerHarness;
  let b: BrokerHarness;

  beforeAll(async () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', TRUSTED_PROXIES: '127.0.0.1', ENROLLMENT_RATE_LIMIT_PER_MINUTE: '4' };
    [a, b] = await Promise.all([BrokerHarness.start(env), BrokerHarness.start(env)]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('counts the attempts made on every instance against one limit', async () => {
    // An address of its own: other tests on the same Redis must not share its count.
    const ip = freshIp();
    const guess = (h: BrokerHarness) => h.send('POST', '/v1/enrollments', { code: 'AAAA-BBBB-CCCC-DD', publicKey: deviceKey().jwk }, { 'x-forwarded-for': ip });
    const statuses = [];
    for (const h of [a, a, b, b]) statuses.push((await guess(h)).status);
    expect(statuses).toEqual([400, 400, 400, 400]);
    const limited = await guess(a);
    expect(limited.status).toBe(429);
    const [event] = await a.auditEvents(String(limited.headers['x-request-id']));
    expect([event.action, event.reason]).toEqual(['enrollment.refused', 'rate-limited']);
    // Another address is not limited.
    expect((await b.send('POST', '/v1/enrollments', { code: 'AAAA-BBBB-CCCC-DD', publicKey: deviceKey().jwk }, { 'x-forwarded-for': freshIp() })).status).toBe(
      400,
    );
  });
});
