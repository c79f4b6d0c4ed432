import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { request } from 'undici';
import { addTerminalFromCli } from '../src/admin/cli-commands';
import { createApp } from '../src/app.factory';
import { DatabaseConnection } from '../src/database/database-connection';
import { BrokerHarness, SECOND_TERMINAL, TERMINAL, type HttpResult } from './support/broker-harness';
import { LogCapture } from './support/log-capture';
import { TcpProxy } from './support/tcp-proxy';

const POLICY = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] };
const OTHER_POLICY = { allowUnscoped: true, allowed: [] };

function publicJwk(): Record<string, unknown> {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
}

/**
 * Issue 11 §2: an admin change and its audit event stand or fall together. Only the audit insert
 * is made to fail (a CHECK constraint on audit_event, NOT VALID so existing rows stay); each
 * mutation must then answer 503 problem+json and leave nothing changed, and succeed with its
 * event once the constraint is gone.
 */
describe('admin changes commit with their audit event, or not at all', () => {
  let h: BrokerHarness;
  let bootstrapToken: string;
  let admin: (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown) => Promise<HttpResult>;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'psb-atomic-'));
    const tokenFile = join(dir, 'bootstrap-token');
    h = await BrokerHarness.start({ BOOTSTRAP_ENROLLMENT: 'true', BOOTSTRAP_TOKEN_FILE: tokenFile });
    bootstrapToken = readFileSync(tokenFile, 'utf8').trim();
    admin = (method, path, body) => h.send(method, path, body, { authorization: `Bearer ${h.operatorToken(['admin'], { subject: 'carol@example.com' })}` });
  });

  afterAll(async () => {
    await h?.expectNoSecretsLeaked();
    await h?.close();
  });

  const requestIdOf = (res: HttpResult) => String(res.headers['x-request-id']);
  const breakAdminAudit = () =>
    h.db.query(`ALTER TABLE audit_event ADD CONSTRAINT no_admin CHECK (action NOT LIKE 'device.%' AND action NOT LIKE 'terminal.%') NOT VALID`);
  const repairAdminAudit = () => h.db.query('ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS no_admin');
  afterEach(repairAdminAudit);

  /** 503 audit-unavailable as problem+json, with no event for the request. */
  async function expectRefused(res: HttpResult): Promise<void> {
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 503, code: 'audit-unavailable' });
    expect(res.headers['retry-after']).toBeDefined();
    expect(await h.auditEvents(requestIdOf(res))).toEqual([]);
  }

  /** `expected` status, and exactly one event `action` by `actor` for the request. */
  async function expectDone(res: HttpResult, status: number, action: string, actor = 'carol@example.com'): Promise<void> {
    expect(res.status).toBe(status);
    const events = await h.auditEvents(requestIdOf(res));
    expect(events.map((e) => [e.action, e.actor_id])).toEqual([[action, actor]]);
  }

  const terminalRow = async (n: string) =>
    (
      await h.db.query<{ endpoint_url: string; enabled: boolean; label: string }>(
        'SELECT endpoint_url, enabled, label FROM terminal WHERE terminal_number = $1',
        [n],
      )
    )[0];
  const deviceRow = async (id: string) => {
    const [device] = await h.db.query<{ name: string; status: string; policy: unknown }>('SELECT name, status, policy FROM device WHERE id = $1', [id]);
    const terminals = await h.db.query<{ terminal_number: string }>(
      'SELECT t.terminal_number FROM device_terminal dt JOIN terminal t ON t.id = dt.terminal_id WHERE dt.device_id = $1 ORDER BY 1',
      [id],
    );
    const keys = await h.db.query<{ id: string; expires_at: Date | null }>('SELECT id, expires_at FROM device_key WHERE device_id = $1 ORDER BY created_at', [
      id,
    ]);
    return { ...device, terminals: terminals.map((t) => t.terminal_number), keys };
  };
  const devicesNamed = (name: string) => h.db.query('SELECT id FROM device WHERE name = $1', [name]);

  describe('terminals', () => {
    const NUMBER = '0882819200';
    const body = { terminalNumber: NUMBER, label: 'Lane 9', endpointUrl: 'https://gw.example/a', credentialRef: `hyp/${NUMBER}` };

    it('create: 503 and no terminal while the event cannot be written; 201 with terminal.created after', async () => {
      await breakAdminAudit();
      await expectRefused(await admin('POST', '/v1/admin/terminals', body));
      expect(await terminalRow(NUMBER)).toBeUndefined();
      expect((await admin('GET', `/v1/admin/terminals/${NUMBER}`)).status).toBe(404);
      await repairAdminAudit();
      await expectDone(await admin('POST', '/v1/admin/terminals', body), 201, 'terminal.created');
    });

    it('update: 503 and the endpoint (where the password goes) unchanged; 200 with terminal.updated after', async () => {
      await breakAdminAudit();
      await expectRefused(await admin('PATCH', `/v1/admin/terminals/${NUMBER}`, { endpointUrl: 'https://attacker.example/steal' }));
      expect((await terminalRow(NUMBER)).endpoint_url).toBe('https://gw.example/a');
      await repairAdminAudit();
      await expectDone(await admin('PATCH', `/v1/admin/terminals/${NUMBER}`, { endpointUrl: 'https://gw.example/b' }), 200, 'terminal.updated');
      expect((await terminalRow(NUMBER)).endpoint_url).toBe('https://gw.example/b');
    });

    it('disable and enable: 503 and the terminal as it was; done with their events after', async () => {
      await breakAdminAudit();
      await expectRefused(await admin('POST', `/v1/admin/terminals/${NUMBER}/disable`));
      expect((await terminalRow(NUMBER)).enabled).toBe(true);
      await repairAdminAudit();
      await expectDone(await admin('POST', `/v1/admin/terminals/${NUMBER}/disable`), 200, 'terminal.disabled');
      expect((await terminalRow(NUMBER)).enabled).toBe(false);

      await breakAdminAudit();
      await expectRefused(await admin('POST', `/v1/admin/terminals/${NUMBER}/enable`));
      expect((await terminalRow(NUMBER)).enabled).toBe(false);
      await repairAdminAudit();
      await expectDone(await admin('POST', `/v1/admin/terminals/${NUMBER}/enable`), 200, 'terminal.enabled');
      expect((await terminalRow(NUMBER)).enabled).toBe(true);
    });

    it("the CLI's terminal:add goes through the same service: nothing saved without its event, then terminal.created by cli:<user>", async () => {
      const CLI = '0882819201';
      const args = { number: CLI, label: 'From the CLI', endpoint: 'https://gw.example/cli', 'credential-ref': `hyp/${CLI}`, provider: 'hyp' };
      await breakAdminAudit();
      await expect(addTerminalFromCli(h.app, args, 'dana', 'cli-test-1')).rejects.toMatchObject({ status: 503, code: 'audit-unavailable' });
      expect(await terminalRow(CLI)).toBeUndefined();
      await repairAdminAudit();
      const saved = await addTerminalFromCli(h.app, args, 'dana', 'cli-test-2');
      expect(saved).toMatchObject({ terminalNumber: CLI, endpointUrl: 'https://gw.example/cli', enabled: true });
      const [event] = await h.auditEvents('cli-test-2');
      expect([event.action, event.actor_id, event.terminal_number]).toEqual(['terminal.created', 'cli:dana', CLI]);
      // Run again on an existing terminal: an update, recorded as one.
      await addTerminalFromCli(h.app, { ...args, endpoint: 'https://gw.example/cli2' }, 'dana', 'cli-test-3');
      const [update] = await h.auditEvents('cli-test-3');
      expect([update.action, update.actor_id]).toEqual(['terminal.updated', 'cli:dana']);
      expect(update.details).toMatchObject({ before: { endpointUrl: 'https://gw.example/cli' }, after: { endpointUrl: 'https://gw.example/cli2' } });
    });
  });

  describe('devices', () => {
    let deviceId: string;

    it('enroll: 503 and no device while the event cannot be written; 201 with device.enrolled after', async () => {
      const enroll = { name: 'atomic-pos', publicKey: publicJwk(), terminalNumbers: [TERMINAL], policy: POLICY };
      await breakAdminAudit();
      await expectRefused(await admin('POST', '/v1/admin/devices', enroll));
      expect(await devicesNamed('atomic-pos')).toEqual([]);
      await repairAdminAudit();
      const res = await admin('POST', '/v1/admin/devices', enroll);
      await expectDone(res, 201, 'device.enrolled');
      deviceId = res.body.id as string;
    });

    it('bind and rename (PATCH): 503 and the bindings and name unchanged; 200 with device.updated after', async () => {
      const before = await deviceRow(deviceId);
      await breakAdminAudit();
      await expectRefused(await admin('PATCH', `/v1/admin/devices/${deviceId}`, { name: 'renamed', terminalNumbers: [TERMINAL, SECOND_TERMINAL] }));
      expect(await deviceRow(deviceId)).toEqual(before);
      await repairAdminAudit();
      await expectDone(
        await admin('PATCH', `/v1/admin/devices/${deviceId}`, { name: 'renamed', terminalNumbers: [TERMINAL, SECOND_TERMINAL] }),
        200,
        'device.updated',
      );
      expect(await deviceRow(deviceId)).toMatchObject({ name: 'renamed', terminals: [TERMINAL, SECOND_TERMINAL] });
    });

    it('policy: 503 and the policy unchanged; 200 with device.updated after', async () => {
      await breakAdminAudit();
      await expectRefused(await admin('PATCH', `/v1/admin/devices/${deviceId}`, { policy: OTHER_POLICY }));
      expect((await deviceRow(deviceId)).policy).toEqual(POLICY);
      await repairAdminAudit();
      await expectDone(await admin('PATCH', `/v1/admin/devices/${deviceId}`, { policy: OTHER_POLICY }), 200, 'device.updated');
      expect((await deviceRow(deviceId)).policy).toEqual(OTHER_POLICY);
    });

    it('rotate key: 503 and the keys unchanged (no new key, no end set on the old); 201 with device.key-rotated after', async () => {
      const before = await deviceRow(deviceId);
      const rotate = { publicKey: publicJwk() };
      await breakAdminAudit();
      await expectRefused(await admin('POST', `/v1/admin/devices/${deviceId}/keys`, rotate));
      expect(await deviceRow(deviceId)).toEqual(before);
      await repairAdminAudit();
      await expectDone(await admin('POST', `/v1/admin/devices/${deviceId}/keys`, rotate), 201, 'device.key-rotated');
      expect((await deviceRow(deviceId)).keys).toHaveLength(2);
    });

    it.each([
      ['disable', 'active', 'disabled'],
      ['enable', 'disabled', 'active'],
      ['revoke', 'active', 'revoked'],
    ])('%s: 503 and the device still %s; 200 with its event after', async (change, from, to) => {
      expect((await deviceRow(deviceId)).status).toBe(from);
      await breakAdminAudit();
      await expectRefused(await admin('POST', `/v1/admin/devices/${deviceId}/${change}`));
      expect((await deviceRow(deviceId)).status).toBe(from);
      await repairAdminAudit();
      await expectDone(await admin('POST', `/v1/admin/devices/${deviceId}/${change}`), 200, `device.${to === 'active' ? 'enabled' : to}`);
      expect((await deviceRow(deviceId)).status).toBe(to);
    });

    it('bootstrap enrollment: 503 and no device; 201 with device.enrolled by the bootstrap actor after', async () => {
      const body = { name: 'bootstrap-pos', publicKey: publicJwk(), terminalNumbers: [TERMINAL], policy: POLICY };
      const enroll = () => h.post('/v1/bootstrap/devices', body, { authorization: `Bearer ${bootstrapToken}` });
      await breakAdminAudit();
      await expectRefused(await enroll());
      expect(await devicesNamed('bootstrap-pos')).toEqual([]);
      await repairAdminAudit();
      const res = await enroll();
      expect(res.status).toBe(201);
      const events = await h.auditEvents(requestIdOf(res));
      expect(events.map((e) => e.action)).toEqual(['device.enrolled']);
      expect(await devicesNamed('bootstrap-pos')).toHaveLength(1);
      // A key already enrolled is refused here as on the admin API (409), and nothing is added.
      const again = await h.post('/v1/bootstrap/devices', { ...body, name: 'bootstrap-pos-2' }, { authorization: `Bearer ${bootstrapToken}` });
      expect(again.status).toBe(409);
      expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await devicesNamed('bootstrap-pos-2')).toEqual([]);
    });
  });

  it('holds on the embedded PGlite too: interactive transactions, refused change rolled back, then done with its event', async () => {
    const { DATABASE_URL: _postgres, ...env } = h.appEnv;
    const dir = mkdtempSync(join(tmpdir(), 'psb-atomic-pglite-'));
    const embedded: NestFastifyApplication = await createApp({ env: { ...env, PGLITE_DATA_DIR: join(dir, 'pglite') }, logDestination: new LogCapture() });
    try {
      await embedded.listen({ port: 0, host: '127.0.0.1' });
      const address = embedded.getHttpServer().address();
      if (address === null || typeof address === 'string') throw new Error('no address');
      const db = embedded.get(DatabaseConnection);
      expect(db.kind).toBe('pglite');
      const call = async (method: 'POST' | 'PATCH' | 'GET', path: string, body?: unknown) => {
        const res = await request(`http://127.0.0.1:${address.port}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${h.operatorToken(['admin'], { subject: 'erin@example.com' })}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
        });
        return { status: res.statusCode, requestId: String(res.headers['x-request-id']), body: (await res.body.json()) as Record<string, unknown> };
      };
      const eventsOf = (requestId: string) =>
        db.sql.query<{ action: string; actor_id: string }>('SELECT action, actor_id FROM audit_event WHERE request_id = $1', [requestId]);
      const NUMBER = '0882819300';
      const terminal = { terminalNumber: NUMBER, label: 'Embedded', endpointUrl: 'https://gw.example/e', credentialRef: `hyp/${NUMBER}` };
      const device = { name: 'embedded-pos', publicKey: publicJwk(), terminalNumbers: [NUMBER], policy: POLICY };

      await db.sql.query(`ALTER TABLE audit_event ADD CONSTRAINT no_admin CHECK (action NOT LIKE 'device.%' AND action NOT LIKE 'terminal.%') NOT VALID`, []);
      const refused = await call('POST', '/v1/admin/terminals', terminal);
      expect([refused.status, refused.body.code]).toEqual([503, 'audit-unavailable']);
      expect((await call('GET', `/v1/admin/terminals/${NUMBER}`)).status).toBe(404);
      await db.sql.query('ALTER TABLE audit_event DROP CONSTRAINT no_admin', []);

      const created = await call('POST', '/v1/admin/terminals', terminal);
      expect(created.status).toBe(201);
      expect(await eventsOf(created.requestId)).toEqual([{ action: 'terminal.created', actor_id: 'erin@example.com' }]);

      await db.sql.query(`ALTER TABLE audit_event ADD CONSTRAINT no_admin CHECK (action NOT LIKE 'device.%' AND action NOT LIKE 'terminal.%') NOT VALID`, []);
      expect((await call('POST', '/v1/admin/devices', device)).status).toBe(503);
      expect((await call('GET', '/v1/admin/devices?name=embedded-pos')).body.total).toBe(0);
      await db.sql.query('ALTER TABLE audit_event DROP CONSTRAINT no_admin', []);
      const enrolled = await call('POST', '/v1/admin/devices', device);
      expect(enrolled.status).toBe(201);
      expect(await eventsOf(enrolled.requestId)).toEqual([{ action: 'device.enrolled', actor_id: 'erin@example.com' }]);
      // The same key on a second device: refused, on PGlite as on Postgres.
      expect((await call('POST', '/v1/admin/devices', { ...device, name: 'embedded-pos-2' })).status).toBe(409);
    } finally {
      await embedded.close();
    }
  });

  it('answers 503 problem+json, never 500, and changes nothing when the database is down', async () => {
    const proxy = new TcpProxy('127.0.0.1', 5432);
    await proxy.start();
    const viaProxy = await BrokerHarness.start({}, (url) => {
      const u = new URL(url);
      u.port = String(proxy.port);
      return u.toString();
    });
    try {
      const NUMBER = '0882819400';
      const body = { terminalNumber: NUMBER, label: 'Outage', endpointUrl: 'https://gw.example/o', credentialRef: `hyp/${NUMBER}` };
      const token = viaProxy.operatorToken(['admin'], { subject: 'frank@example.com' });
      const down = proxy.restart(1_500);
      const res = await viaProxy.send('POST', '/v1/admin/terminals', body, { authorization: `Bearer ${token}` });
      await down;
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await viaProxy.db.query('SELECT 1 FROM terminal WHERE terminal_number = $1', [NUMBER])).toEqual([]);
      const again = await viaProxy.send('POST', '/v1/admin/terminals', body, { authorization: `Bearer ${token}` });
      expect(again.status).toBe(201);
      expect((await viaProxy.auditEvents(String(again.headers['x-request-id']))).map((e) => e.action)).toEqual(['terminal.created']);
    } finally {
      await viaProxy.close();
      await proxy.stop();
    }
  });
});
