import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sign } from 'jsonwebtoken';
import { request } from 'undici';
import { createApp } from '../src/app.factory';
import { DatabaseConnection } from '../src/database/database-connection';
import { DeviceEnrollment } from '../src/devices/device-enrollment';
import { DeviceLiveness } from '../src/devices/device-liveness';
import { TerminalRepository } from '../src/terminals/terminal.repository';
import { AUDIENCE, BrokerHarness, TERMINAL, type HttpResult, type TestDevice } from './support/broker-harness';
import { LogCapture } from './support/log-capture';

const QUIET = { DEVICE_RATE_LIMIT_PER_MINUTE: '100000', AUTH_FAILURE_LIMIT_PER_MINUTE: '100000' };

/** Polls `read` until `done` holds (a flush runs on its own timer), at most `ms`. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 5_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > until) return value;
    await sleep(50);
  }
}

/**
 * Issue 15 §2: devices show lastSeenAt, lastIp and softwareVersion (the JWT's optional `sv`), kept
 * in memory per instance and written in one batched statement per flush interval, never by the
 * request itself; admins list devices not seen since a time.
 */
describe('device liveness (flushed on its own, every 250 ms)', () => {
  let h: BrokerHarness;
  let admin: (method: 'GET', path: string) => Promise<HttpResult>;

  beforeAll(async () => {
    h = await BrokerHarness.start({ ...QUIET, DEVICE_LIVENESS_FLUSH_MS: '250' });
    admin = (method, path) => h.send(method, path, undefined, { authorization: `Bearer ${h.operatorToken(['auditor'])}` });
  });
  afterAll(async () => {
    await h?.expectNoSecretsLeaked();
    await h?.close();
  });

  const device = (id: string) => admin('GET', `/v1/admin/devices/${id}`);

  it('shows lastSeenAt, lastIp and softwareVersion from the sv claim once flushed; null before any sighting', async () => {
    const d = await h.enrollDevice();
    const fresh = await device(d.deviceId);
    expect(fresh.body).toMatchObject({ lastSeenAt: null, lastIp: null, softwareVersion: null });

    const before = Date.now();
    expect((await h.issue(d, undefined, d.jwt({ sv: 'pos-4.2.0+build.17' }))).status).toBe(201);
    const seen = await eventually(
      () => device(d.deviceId),
      (r) => r.body.lastSeenAt !== null,
    );
    expect(seen.body).toMatchObject({ lastIp: '127.0.0.1', softwareVersion: 'pos-4.2.0+build.17' });
    const at = Date.parse(String(seen.body.lastSeenAt));
    expect(at).toBeGreaterThanOrEqual(before - 5);
    expect(at).toBeLessThanOrEqual(Date.now());

    // A later token without sv: seen again, and the version it last reported is kept.
    await sleep(20);
    expect((await h.issue(d)).status).toBe(201);
    const again = await eventually(
      () => device(d.deviceId),
      (r) => Date.parse(String(r.body.lastSeenAt)) > at,
    );
    expect(Date.parse(String(again.body.lastSeenAt))).toBeGreaterThan(at);
    expect(again.body.softwareVersion).toBe('pos-4.2.0+build.17');
    // A new version is reported as soon as a token carries it.
    expect((await h.issue(d, undefined, d.jwt({ sv: '4.3.0' }))).status).toBe(201);
    expect(
      (
        await eventually(
          () => device(d.deviceId),
          (r) => r.body.softwareVersion === '4.3.0',
        )
      ).body.softwareVersion,
    ).toBe('4.3.0');
    // In the list too.
    const list = await admin('GET', '/v1/admin/devices?limit=100');
    expect((list.body.items as Array<{ id: string; softwareVersion: unknown }>).find((x) => x.id === d.deviceId)?.softwareVersion).toBe('4.3.0');
  });

  it.each([
    ['empty', ''],
    ['65 characters', 'v'.repeat(65)],
    ['a space', '4.2 beta'],
    ['a non-ASCII letter', '4.2-é'],
    ['a control character', '4.2\u0000'],
    ['a number', 42],
    ['an object', { v: '4.2' }],
  ])('refuses an sv claim that is %s: 401 problem+json, audited as malformed-sv, no sighting', async (_what, sv) => {
    const d = await h.enrollDevice();
    const res = await h.issue(d, undefined, d.jwt({ sv }));
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.sessionId).toBeUndefined();
    const events = await h.auditEvents(String(res.headers['x-request-id']));
    expect(events.map((e) => [e.action, e.reason, e.actor_id])).toEqual([['auth.refused', 'malformed-sv', d.deviceId]]);
    await sleep(400); // past a flush
    expect((await device(d.deviceId)).body).toMatchObject({ lastSeenAt: null, softwareVersion: null });
  });

  it('lists the devices not seen since a time (never seen counts as not seen)', async () => {
    const recent = await h.enrollDevice();
    const stale = await h.enrollDevice();
    const never = await h.enrollDevice();
    expect((await h.issue(recent, undefined, recent.jwt({ sv: '1.0.0' }))).status).toBe(201);
    expect((await h.issue(stale, undefined, stale.jwt({ sv: '0.9.0' }))).status).toBe(201);
    await eventually(
      () => device(stale.deviceId),
      (r) => r.body.lastSeenAt !== null,
    );
    await eventually(
      () => device(recent.deviceId),
      (r) => r.body.lastSeenAt !== null,
    );
    // As if its last sighting were two days old.
    await h.db.query(`UPDATE device SET last_seen_at = now() - interval '2 days' WHERE id = $1`, [stale.deviceId]);

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const res = await admin('GET', `/v1/admin/devices?limit=100&notSeenSince=${encodeURIComponent(since)}`);
    expect(res.status).toBe(200);
    const ids = (res.body.items as Array<{ id: string; lastSeenAt: string | null }>).map((x) => x.id);
    expect(ids).toEqual(expect.arrayContaining([stale.deviceId, never.deviceId]));
    expect(ids).not.toContain(recent.deviceId);
    expect(res.body.total).toBe(ids.length);
    for (const item of res.body.items as Array<{ lastSeenAt: string | null }>) {
      if (item.lastSeenAt !== null) expect(Date.parse(item.lastSeenAt)).toBeLessThan(Date.parse(since));
    }
    // With the other filters.
    const withStatus = await admin('GET', `/v1/admin/devices?status=active&notSeenSince=${encodeURIComponent(since)}&limit=100`);
    expect((withStatus.body.items as Array<{ id: string }>).map((x) => x.id)).toEqual(expect.arrayContaining([stale.deviceId, never.deviceId]));
    // A time in the future: every device.
    const all = await admin('GET', `/v1/admin/devices?limit=1&notSeenSince=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    const [{ count }] = await h.db.query<{ count: number }>('SELECT count(*)::int AS count FROM device');
    expect(all.body.total).toBe(count);
  });

  it.each([['yesterday'], ['2026-13-01T00:00:00Z'], ['2026-02-31T00:00:00Z'], [''], ['1700000000']])(
    'refuses notSeenSince=%s (400 naming it)',
    async (value) => {
      const res = await admin('GET', `/v1/admin/devices?notSeenSince=${encodeURIComponent(value)}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors).toContainEqual({ path: 'notSeenSince', message: expect.stringMatching(/ISO 8601/) });
    },
  );
});

describe('device liveness writes (flush interval longer than the test)', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ ...QUIET, DEVICE_LIVENESS_FLUSH_MS: '600000' });
    // Counts every statement and every row that writes a sighting, whoever runs it.
    await h.db.query(`CREATE TABLE liveness_writes (kind text NOT NULL, device_id uuid)`);
    await h.db.query(`CREATE FUNCTION liveness_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO liveness_writes VALUES ('row', NEW.id); RETURN NULL; END $$`);
    await h.db.query(`CREATE FUNCTION liveness_statement() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO liveness_writes VALUES ('statement', NULL); RETURN NULL; END $$`);
    await h.db.query(`CREATE TRIGGER liveness_row AFTER UPDATE OF last_seen_at ON device FOR EACH ROW EXECUTE FUNCTION liveness_row()`);
    await h.db.query(`CREATE TRIGGER liveness_statement AFTER UPDATE OF last_seen_at ON device FOR EACH STATEMENT EXECUTE FUNCTION liveness_statement()`);
  });
  afterAll(async () => {
    await h?.close();
  });

  const writes = async () => {
    const rows = await h.db.query<{ kind: string; device_id: string | null }>('SELECT kind, device_id::text FROM liveness_writes');
    return { statements: rows.filter((r) => r.kind === 'statement').length, rows: rows.filter((r) => r.kind === 'row').map((r) => r.device_id) };
  };
  const lastSeen = async (d: TestDevice) =>
    (
      await h.db.query<{ last_seen_at: Date | null; software_version: string | null }>('SELECT last_seen_at, software_version FROM device WHERE id = $1', [
        d.deviceId,
      ])
    )[0];

  it('N requests from several devices in one interval: no write per request, then one statement with one row per device', async () => {
    const a = await h.enrollDevice();
    const b = await h.enrollDevice();
    const results = await Promise.all([
      ...Array.from({ length: 15 }, (_, i) => h.issue(a, undefined, a.jwt({ sv: `1.0.${i}` }))),
      ...Array.from({ length: 5 }, () => h.issue(b, undefined, b.jwt({ sv: '2.0.0' }))),
    ]);
    expect(results.map((r) => r.status)).toEqual(results.map(() => 201));
    expect(await writes()).toEqual({ statements: 0, rows: [] });
    expect((await lastSeen(a)).last_seen_at).toBeNull();

    await h.app.get(DeviceLiveness).flush();
    const after = await writes();
    expect(after.statements).toBe(1);
    expect(after.rows.sort()).toEqual([a.deviceId, b.deviceId].sort());
    expect((await lastSeen(a)).last_seen_at).not.toBeNull();
    expect((await lastSeen(b)).software_version).toBe('2.0.0');
    // Nothing pending: another flush writes nothing.
    await h.app.get(DeviceLiveness).flush();
    expect((await writes()).statements).toBe(1);
  });

  it('writes what is pending at shutdown, before the database closes', async () => {
    const c = await h.enrollDevice();
    expect((await h.issue(c, undefined, c.jwt({ sv: '3.1.4' }))).status).toBe(201);
    expect((await lastSeen(c)).last_seen_at).toBeNull();
    await h.app.close();
    expect(await lastSeen(c)).toMatchObject({ software_version: '3.1.4' });
    expect((await lastSeen(c)).last_seen_at).not.toBeNull();
    h.app = { close: async () => undefined } as never; // closed already: h.close() drops the database only
  });

  // Last: closing an embedded app beside the harness's broker is best done once that one is closed.
  it('writes the batch on the embedded PGlite too', async () => {
    const { DATABASE_URL: _postgres, ...env } = h.appEnv;
    const embedded = await createApp({
      env: { ...env, PGLITE_DATA_DIR: join(mkdtempSync(join(tmpdir(), 'psb-liveness-')), 'pglite') },
      logDestination: new LogCapture(),
    });
    try {
      await embedded.listen({ port: 0, host: '127.0.0.1' });
      const address = embedded.getHttpServer().address();
      if (address === null || typeof address === 'string') throw new Error('no address');
      await embedded
        .get(TerminalRepository)
        .upsert({ terminalNumber: TERMINAL, label: 'T', provider: 'hyp', endpointUrl: h.sandboxUrl, credentialRef: `hyp/${TERMINAL}` });
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const policy = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] };
      const { deviceId, keyId } = await embedded
        .get(DeviceEnrollment)
        .enroll(
          { name: 'embedded-pos', publicKey: publicKey.export({ format: 'jwk' }), terminalNumbers: [TERMINAL], policy },
          { type: 'operator', id: 'test' },
          { requestId: 'liveness-pglite' },
        );
      for (let i = 0; i < 3; i++) {
        const token = sign({ jti: randomUUID(), sv: 'pglite-1.0' }, privateKey, {
          algorithm: 'ES256',
          keyid: keyId,
          subject: deviceId,
          audience: AUDIENCE,
          expiresIn: 60,
        });
        const res = await request(`http://127.0.0.1:${address.port}/v1/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } }),
        });
        const body = (await res.body.json()) as { sessionId?: string };
        if (body.sessionId) h.secretsSeen.add(body.sessionId);
        expect(res.statusCode).toBe(201);
      }
      const liveness = embedded.get(DeviceLiveness);
      await liveness.flush();
      expect(liveness.written).toEqual({ statements: 1, rows: 1 });
      const [row] = await embedded
        .get(DatabaseConnection)
        .sql.query<{ software_version: string; last_ip: string; seen: boolean }>(
          'SELECT software_version, last_ip, last_seen_at IS NOT NULL AS seen FROM device WHERE id = $1',
          [deviceId],
        );
      expect(row).toEqual({ software_version: 'pglite-1.0', last_ip: '127.0.0.1', seen: true });
    } finally {
      await embedded.close();
    }
  });
});
