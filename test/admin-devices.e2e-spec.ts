import { generateKeyPairSync, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { sign } from 'jsonwebtoken';
import { request } from 'undici';
import { createApp } from '../src/app.factory';
import { AUDIENCE, BrokerHarness, SECOND_TERMINAL, TERMINAL, type HttpResult } from './support/broker-harness';
import { LogCapture } from './support/log-capture';

const GRACE_SECONDS = 3;
const POLICY = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] };
const SESSION = { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } };

/** A device key pair and a JWT maker for it; EdDSA tokens are signed with node:crypto (jsonwebtoken cannot). */
function deviceKey(kind: 'ES256' | 'EdDSA') {
  const pair = kind === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
  return {
    kind,
    ...pair,
    jwk: pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
    pem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
type DeviceKey = ReturnType<typeof deviceKey>;

function deviceJwt(key: { kind: string; privateKey: KeyObject }, deviceId: string, kid?: string, claims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: deviceId, aud: AUDIENCE, iat: now, exp: now + 60, jti: randomUUID(), ...claims };
  if (key.kind === 'ES256') return sign(payload, key.privateKey, { algorithm: 'ES256', ...(kid ? { keyid: kid } : {}) });
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signingInput = `${b64({ alg: 'EdDSA', typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64(payload)}`;
  return `${signingInput}.${cryptoSign(null, Buffer.from(signingInput), key.privateKey).toString('base64url')}`;
}

describe('admin API: devices', () => {
  let h: BrokerHarness;
  let admin: (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown) => Promise<HttpResult>;

  beforeAll(async () => {
    h = await BrokerHarness.start({ DEVICE_KEY_ROTATION_GRACE_SECONDS: String(GRACE_SECONDS) });
    admin = (method, path, body) => h.send(method, path, body, { authorization: `Bearer ${h.operatorToken(['admin'], { subject: 'bob@example.com' })}` });
  });

  afterAll(async () => {
    await h?.expectNoSecretsLeaked();
    await h?.close();
  });

  const events = (res: HttpResult) => h.auditEvents(String(res.headers['x-request-id']));
  const issueAs = (token: string, body: unknown = SESSION) => h.post('/v1/sessions', body, { authorization: `Bearer ${token}` });

  async function refusalReason(res: HttpResult): Promise<string | null> {
    expect(res.status).toBe(401);
    const [event] = await events(res);
    return event.action === 'auth.refused' ? event.reason : `not refused: ${event.action}`;
  }

  async function enroll(key: DeviceKey, publicKey: unknown = key.jwk, extra: object = {}): Promise<HttpResult> {
    return admin('POST', '/v1/admin/devices', { name: `pos-${key.kind}`, publicKey, terminalNumbers: [TERMINAL], policy: POLICY, ...extra });
  }

  it('enrolls an ES256 device (JWK) that then gets sessions, and records who enrolled it', async () => {
    const key = deviceKey('ES256');
    const res = await enroll(key);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'pos-ES256', status: 'active', terminalNumbers: [TERMINAL], policy: POLICY });
    const keys = res.body.keys as Array<{ id: string; alg: string; expiresAt: string | null }>;
    expect(keys).toMatchObject([{ alg: 'ES256', expiresAt: null }]);
    const [event] = await events(res);
    expect([event.action, event.actor_id]).toEqual(['device.enrolled', 'bob@example.com']);
    expect((await issueAs(deviceJwt(key, res.body.id as string, keys[0].id))).status).toBe(201);
  });

  it('enrolls an EdDSA device (PEM) whose Ed25519 tokens verify, with or without kid', async () => {
    const key = deviceKey('EdDSA');
    const res = await enroll(key, key.pem);
    expect(res.status).toBe(201);
    const deviceId = res.body.id as string;
    const [{ id: kid, alg }] = res.body.keys as Array<{ id: string; alg: string }>;
    expect(alg).toBe('EdDSA');
    expect((await issueAs(deviceJwt(key, deviceId, kid))).status).toBe(201);
    expect((await issueAs(deviceJwt(key, deviceId))).status).toBe(201);
  });

  it('refuses bad EdDSA tokens like bad ES256 ones', async () => {
    const key = deviceKey('EdDSA');
    const deviceId = (await enroll(key)).body.id as string;
    const other = deviceKey('EdDSA');
    expect(await refusalReason(await issueAs(deviceJwt(other, deviceId)))).toBe('bad-signature');
    expect(await refusalReason(await issueAs(deviceJwt(key, deviceId, undefined, { aud: 'someone-else' })))).toBe('wrong-audience');
    const past = Math.floor(Date.now() / 1000) - 600;
    expect(await refusalReason(await issueAs(deviceJwt(key, deviceId, undefined, { iat: past, exp: past + 60 })))).toBe('token-expired');
    expect(await refusalReason(await issueAs(deviceJwt(key, deviceId, undefined, { jti: undefined })))).toBe('claims-missing');
    const replayed = deviceJwt(key, deviceId);
    expect((await issueAs(replayed)).status).toBe(201);
    expect(await refusalReason(await issueAs(replayed))).toBe('jti-replayed');
    const [head, payload] = replayed.split('.');
    expect(await refusalReason(await issueAs(`${head}.${payload}.`))).toBe('unsigned-token');
  });

  it.each([
    ['an RSA key', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' })],
    ['a P-384 key', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' })],
    ['an X25519 key', () => generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    ['garbage', () => '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----'],
    ['a private key (JWK)', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })],
    ['a private key (PEM)', () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
  ])('refuses %s (400)', async (_what, publicKey) => {
    const res = await admin('POST', '/v1/admin/devices', { name: 'x', publicKey: publicKey(), terminalNumbers: [TERMINAL] });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('refuses unknown terminals, missing names, unknown fields (400) and a key enrolled twice (409)', async () => {
    const key = deviceKey('ES256');
    expect((await enroll(key, key.jwk, { terminalNumbers: ['0000000000'] })).status).toBe(400);
    expect((await enroll(key, key.jwk, { name: '' })).status).toBe(400);
    expect((await enroll(key, key.jwk, { secret: 'x' })).status).toBe(400);
    expect((await enroll(key, key.jwk, { policy: { allowed: [{ command: 'format-disk' }] } })).status).toBe(400);
    expect((await enroll(key)).status).toBe(201);
    const twice = await enroll(key, key.pem);
    expect(twice.status).toBe(409);
    expect(twice.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('lists devices newest first, paginated and filtered; gets one; 404 and 400 for unknown and malformed ids', async () => {
    const key = deviceKey('ES256');
    const created = await enroll(key, key.jwk, { name: 'Kiosk-Lobby', terminalNumbers: [SECOND_TERMINAL] });
    const all = await admin('GET', '/v1/admin/devices?limit=100');
    expect(all.status).toBe(200);
    const ids = (r: HttpResult) => (r.body.items as Array<{ id: string }>).map((d) => d.id);
    expect(ids(all)[0]).toBe(created.body.id);
    const page = await admin('GET', '/v1/admin/devices?limit=1&offset=1');
    expect(ids(page)).toEqual([ids(all)[1]]);
    expect(page.body.total).toBe(all.body.total);
    expect(ids(await admin('GET', '/v1/admin/devices?name=kiosk'))).toEqual([created.body.id]);
    expect(ids(await admin('GET', `/v1/admin/devices?terminalNumber=${SECOND_TERMINAL}`))).toEqual([created.body.id]);
    expect(ids(await admin('GET', '/v1/admin/devices?status=revoked'))).toEqual([]);
    expect((await admin('GET', '/v1/admin/devices?status=lost')).status).toBe(400);
    expect((await admin('GET', '/v1/admin/devices?limit=500')).status).toBe(400);

    expect((await admin('GET', `/v1/admin/devices/${created.body.id as string}`)).body.name).toBe('Kiosk-Lobby');
    expect((await admin('GET', `/v1/admin/devices/${randomUUID()}`)).status).toBe(404);
    expect((await admin('GET', '/v1/admin/devices/not-a-uuid')).status).toBe(400);
    expect((await admin('POST', `/v1/admin/devices/${randomUUID()}/disable`)).status).toBe(404);
  });

  it('pages a filtered list by cursor: each device exactly once, newest first, stable while devices are enrolled', async () => {
    const enrolled: string[] = [];
    for (let i = 0; i < 7; i++) {
      const key = deviceKey(i % 2 ? 'EdDSA' : 'ES256');
      enrolled.push((await enroll(key, key.jwk, { name: `Keyset-${i}` })).body.id as string);
    }
    const other = deviceKey('ES256');
    await enroll(other, other.jwk, { name: 'Not-in-the-filter' });
    type Listed = { id: string; name: string; createdAt: string };
    const seen: Listed[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: HttpResult = await admin('GET', `/v1/admin/devices?name=keyset&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.total).toBe(pages === 0 ? 7 : 8); // the count is of now; the pages stay put
      seen.push(...(res.body.items as Listed[]));
      cursor = res.body.nextCursor as string | null;
      pages++;
      // Enrolled while paging: newer than every page so far, so it shifts nothing.
      if (pages === 1) await enroll(deviceKey('ES256'), undefined, { name: 'Keyset-late' }).then((r) => expect(r.status).toBe(201));
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(7);
    expect(new Set(seen.map((d) => d.id))).toEqual(new Set(enrolled));
    const order = [...seen].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0));
    expect(seen).toEqual(order);
    // The offset paging of existing callers answers with a cursor for the page after it too.
    const listed = (res: HttpResult) => (res.body.items as Listed[]).map((d) => d.id);
    const all = listed(await admin('GET', '/v1/admin/devices?name=keyset&limit=100'));
    expect(all).toHaveLength(8);
    expect(all.slice(1)).toEqual(seen.map((d) => d.id));
    const byOffset = await admin('GET', '/v1/admin/devices?name=keyset&limit=2&offset=1');
    expect(listed(byOffset)).toEqual(all.slice(1, 3));
    const afterOffset = await admin('GET', `/v1/admin/devices?name=keyset&limit=2&cursor=${byOffset.body.nextCursor as string}`);
    expect(listed(afterOffset)).toEqual(all.slice(3, 5));
  });

  it('refuses malformed, edited and foreign cursors with 400 problem+json', async () => {
    const first = await admin('GET', '/v1/admin/devices?limit=1');
    const cursor = first.body.nextCursor as string;
    expect(cursor).toEqual(expect.any(String));
    const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
    const edited = Buffer.from(
      decoded.replace(/\.(\d+)\./, (_, ms: string) => `.${Number(ms) + 1}.`),
      'utf8',
    ).toString('base64url');
    const cases: Array<[string, RegExp]> = [
      ['not a cursor!', /not a cursor this API issued/],
      ['bm9wZQ', /not a cursor this API issued/],
      [cursor.slice(0, -4), /not a cursor this API issued/],
      [edited, /not a cursor this API issued/],
      [`${cursor}&status=active`, /other filters/],
      [`${cursor}&offset=5`, /offset/],
      ['x'.repeat(300), /cursor/],
    ];
    for (const [value, message] of cases) {
      const [c, ...rest] = value.split('&');
      const res = await admin('GET', `/v1/admin/devices?limit=1&cursor=${encodeURIComponent(c)}${rest.map((r) => `&${r}`).join('')}`);
      expect({ value, status: res.status }).toEqual({ value, status: 400 });
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.stringify(res.body)).toMatch(message);
    }
    expect((await admin('GET', `/v1/admin/devices?limit=1&cursor=${cursor}`)).status).toBe(200);
  });

  it('rebinds terminals and sets or clears the policy, effective on the next request', async () => {
    const key = deviceKey('ES256');
    const { id } = (await enroll(key)).body as { id: string };
    const second = { terminalNumber: SECOND_TERMINAL, scope: SESSION.scope };
    expect((await issueAs(deviceJwt(key, id), second)).status).toBe(403);
    const res = await admin('PATCH', `/v1/admin/devices/${id}`, { terminalNumbers: [TERMINAL, SECOND_TERMINAL], name: 'renamed' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'renamed', terminalNumbers: [TERMINAL, SECOND_TERMINAL] });
    const [event] = await events(res);
    expect(event.details).toEqual({
      deviceId: id,
      before: { name: 'pos-ES256', terminalNumbers: [TERMINAL] },
      after: { name: 'renamed', terminalNumbers: [TERMINAL, SECOND_TERMINAL] },
    });
    expect((await issueAs(deviceJwt(key, id), second)).status).toBe(201);

    // null: the terminal's default policy (grants nothing by default).
    expect((await admin('PATCH', `/v1/admin/devices/${id}`, { policy: null })).body.policy).toBeNull();
    expect((await issueAs(deviceJwt(key, id))).status).toBe(403);

    expect((await admin('PATCH', `/v1/admin/devices/${id}`, { terminalNumbers: ['0000000000'] })).status).toBe(400);
    expect((await admin('PATCH', `/v1/admin/devices/${id}`, { terminalNumbers: [] })).status).toBe(400);
    expect((await admin('PATCH', `/v1/admin/devices/${id}`, {})).status).toBe(400);
    expect((await admin('PATCH', `/v1/admin/devices/${randomUUID()}`, { name: 'x' })).status).toBe(404);
  });

  it('disables and re-enables at once; revocation is immediate and permanent (409 afterwards)', async () => {
    const key = deviceKey('ES256');
    const { id } = (await enroll(key)).body as { id: string };
    const disabled = await admin('POST', `/v1/admin/devices/${id}/disable`);
    expect(disabled.body.status).toBe('disabled');
    expect((await events(disabled)).map((e) => [e.action, e.actor_id, e.details])).toEqual([
      ['device.disabled', 'bob@example.com', { deviceId: id, before: { status: 'active' }, after: { status: 'disabled' } }],
    ]);
    expect(await refusalReason(await issueAs(deviceJwt(key, id)))).toBe('device-disabled');
    expect((await admin('POST', `/v1/admin/devices/${id}/enable`)).body.status).toBe('active');
    expect((await issueAs(deviceJwt(key, id))).status).toBe(201);

    const revoked = await admin('POST', `/v1/admin/devices/${id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    expect(await refusalReason(await issueAs(deviceJwt(key, id)))).toBe('device-revoked');
    for (const [method, path, body] of [
      ['POST', `/v1/admin/devices/${id}/enable`, undefined],
      ['POST', `/v1/admin/devices/${id}/disable`, undefined],
      ['PATCH', `/v1/admin/devices/${id}`, { name: 'back' }],
      ['POST', `/v1/admin/devices/${id}/keys`, { publicKey: deviceKey('ES256').jwk }],
    ] as const) {
      const res = await admin(method, path, body);
      expect({ path, status: res.status }).toEqual({ path, status: 409 });
    }
    // The database refuses too, whatever writes to it.
    await expect(h.db.query(`UPDATE device SET status = 'active' WHERE id = $1`, [id])).rejects.toThrow(/revocation is permanent/);
    expect((await admin('GET', `/v1/admin/devices/${id}`)).body.status).toBe('revoked');
  });

  it('rotates a key: the new key works at once, the old one (with or without kid) only during the grace period', async () => {
    const oldKey = deviceKey('ES256');
    const enrolled = await enroll(oldKey);
    const id = enrolled.body.id as string;
    const oldKid = (enrolled.body.keys as Array<{ id: string }>)[0].id;
    const newKey = deviceKey('EdDSA');
    const rotated = await admin('POST', `/v1/admin/devices/${id}/keys`, { publicKey: newKey.jwk });
    expect(rotated.status).toBe(201);
    const newKid = rotated.body.keyId as string;
    const graceEnd = Date.parse(rotated.body.previousKeysExpireAt as string);
    expect(graceEnd - Date.now()).toBeGreaterThan(0);
    expect(graceEnd - Date.now()).toBeLessThanOrEqual(GRACE_SECONDS * 1000);
    const [event] = await events(rotated);
    expect(event.action).toBe('device.key-rotated');
    expect(JSON.stringify(event.details)).toContain(newKid);

    expect((await issueAs(deviceJwt(newKey, id, newKid))).status).toBe(201);
    expect((await issueAs(deviceJwt(newKey, id))).status).toBe(201);
    expect((await issueAs(deviceJwt(oldKey, id, oldKid))).status).toBe(201);
    expect((await issueAs(deviceJwt(oldKey, id))).status).toBe(201);

    await new Promise((r) => setTimeout(r, Math.max(0, graceEnd - Date.now()) + 200));
    expect(await refusalReason(await issueAs(deviceJwt(oldKey, id, oldKid)))).toBe('no-usable-key');
    expect(await refusalReason(await issueAs(deviceJwt(oldKey, id)))).toBe('no-usable-key');
    expect((await issueAs(deviceJwt(newKey, id))).status).toBe(201);
    expect((await admin('POST', `/v1/admin/devices/${id}/keys`, { publicKey: newKey.pem })).status).toBe(409);
    expect((await admin('POST', `/v1/admin/devices/${id}/keys`, { publicKey: 'nope' })).status).toBe(400);
  });

  it('rotates with graceSeconds 0: the old key stops verifying at once (compromised key), the new one works', async () => {
    const oldKey = deviceKey('ES256');
    const enrolled = await enroll(oldKey);
    const id = enrolled.body.id as string;
    const oldKid = (enrolled.body.keys as Array<{ id: string }>)[0].id;
    expect((await issueAs(deviceJwt(oldKey, id, oldKid))).status).toBe(201);
    const newKey = deviceKey('ES256');
    const rotated = await admin('POST', `/v1/admin/devices/${id}/keys`, { publicKey: newKey.jwk, graceSeconds: 0 });
    expect(rotated.status).toBe(201);
    expect(Date.parse(rotated.body.previousKeysExpireAt as string)).toBeLessThanOrEqual(Date.now());
    const [event] = await events(rotated);
    expect(event.action).toBe('device.key-rotated');
    expect(await refusalReason(await issueAs(deviceJwt(oldKey, id, oldKid)))).toBe('no-usable-key');
    // Without kid the new key is tried, and does not match.
    expect(['no-usable-key', 'bad-signature']).toContain(await refusalReason(await issueAs(deviceJwt(oldKey, id))));
    expect((await issueAs(deviceJwt(newKey, id, rotated.body.keyId as string))).status).toBe(201);
    for (const graceSeconds of [-1, 1.5, '0', 2_592_001]) {
      expect((await admin('POST', `/v1/admin/devices/${id}/keys`, { publicKey: deviceKey('ES256').jwk, graceSeconds })).status).toBe(400);
    }
  });

  it('refuses a public key already enrolled on another device (409), whatever its form, even when enrollments race', async () => {
    const key = deviceKey('EdDSA');
    // Eight enrollments of one key at once: the unique index lets exactly one through.
    const raced = await Promise.all(Array.from({ length: 8 }, (_, i) => enroll(key, i % 2 ? key.pem : key.jwk, { name: `racer-${i}` })));
    expect(raced.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    for (const r of raced.filter((x) => x.status === 409)) expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    const holder = raced.find((r) => r.status === 201)!.body.id as string;
    // The same key with other JWK members (kid, use, alg) is still the same key (RFC 7638).
    expect((await enroll(key, { ...key.jwk, kid: 'other', use: 'sig', alg: 'EdDSA' })).status).toBe(409);
    // Rotating another device to it, one at a time or racing a new enrollment of it.
    const other = await enroll(deviceKey('ES256'));
    expect((await admin('POST', `/v1/admin/devices/${other.body.id as string}/keys`, { publicKey: key.pem })).status).toBe(409);
    const fresh = deviceKey('ES256');
    const [rotation, enrollment] = await Promise.all([
      admin('POST', `/v1/admin/devices/${other.body.id as string}/keys`, { publicKey: fresh.jwk }),
      enroll(fresh, fresh.jwk, { name: 'racer-fresh' }),
    ]);
    expect([rotation.status, enrollment.status].sort()).toEqual([201, 409]);
    const holders = await h.db.query<{ device_id: string }>(`SELECT DISTINCT device_id::text FROM device_key WHERE public_jwk->>'x' = $1`, [key.jwk.x]);
    expect(holders).toEqual([{ device_id: holder }]);
  });

  it('reaches another instance within DEVICE_CACHE_TTL_MS', async () => {
    const logs = new LogCapture();
    const other: NestFastifyApplication = await createApp({ env: { ...h.appEnv, DEVICE_CACHE_TTL_MS: '1000' }, logDestination: logs });
    try {
      await other.listen({ port: 0, host: '127.0.0.1' });
      const { port } = other.getHttpServer().address() as { port: number };
      const key = deviceKey('ES256');
      const { id } = (await enroll(key)).body as { id: string };
      const issueThere = async () => {
        const res = await request(`http://127.0.0.1:${port}/v1/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${deviceJwt(key, id)}` },
          body: JSON.stringify(SESSION),
        });
        const text = await res.body.text();
        const body = JSON.parse(text) as { sessionId?: string };
        if (body.sessionId) h.secretsSeen.add(body.sessionId);
        return res.statusCode;
      };
      expect(await issueThere()).toBe(201); // cached as active over there
      const revokedAt = Date.now();
      expect((await admin('POST', `/v1/admin/devices/${id}/revoke`)).status).toBe(200);
      let status = await issueThere();
      while (status !== 401 && Date.now() - revokedAt < 10_000) {
        await new Promise((r) => setTimeout(r, 100));
        status = await issueThere();
      }
      expect(status).toBe(401);
      expect(Date.now() - revokedAt).toBeLessThan(5_000);
    } finally {
      await other.close();
    }
  });
});
