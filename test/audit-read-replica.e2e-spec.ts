import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { AuditSealer } from '../src/audit/seal/audit-sealer';
import { SealRepository } from '../src/audit/seal/seal.repository';
import type { BrokerHarness as Harness } from './support/broker-harness';

/**
 * AUDIT_READ_DATABASE_URL against a real streaming replica: a throwaway primary cluster (initdb,
 * its own port, replication allowed by initdb's pg_hba) and a replica made from it with
 * pg_basebackup -R -X stream, both under a temp dir and stopped at the end. The broker's test
 * database is created on that primary, so the replica streams it.
 */
const BIN = '/usr/lib/postgresql/15/bin';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Postgres refuses to run as root: its binaries run as the postgres OS user then. */
function pg(cmd: string, args: string[]): string {
  const asRoot = process.getuid?.() === 0;
  return execFileSync(asRoot ? 'runuser' : join(BIN, cmd), asRoot ? ['-u', 'postgres', '--', join(BIN, cmd), ...args] : args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('auditor reads on a real streaming replica (AUDIT_READ_DATABASE_URL)', () => {
  let dir: string;
  let primaryPort: number;
  let replicaPort: number;
  let h: Harness;
  let replica: Client;
  let replicaUrl: string;
  let auditor: string;
  let replicaRunning = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psb-replica-'));
    if (process.getuid?.() === 0) {
      const u = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const g = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
      chownSync(dir, u, g);
    }
    primaryPort = await freePort();
    replicaPort = await freePort();
    const primaryDir = join(dir, 'primary');
    const replicaDir = join(dir, 'replica');
    pg('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '--no-sync']);
    const opts = (port: number) =>
      `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c wal_level=replica -c max_wal_senders=5 -c hot_standby=on`;
    pg('pg_ctl', ['-D', primaryDir, '-o', opts(primaryPort), '-l', join(dir, 'primary.log'), '-w', 'start']);
    pg('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream']);
    pg('pg_ctl', ['-D', replicaDir, '-o', opts(replicaPort), '-l', join(dir, 'replica.log'), '-w', 'start']);
    replicaRunning = true;

    // The harness creates its database on the throwaway primary (read at module load).
    process.env.TEST_DATABASE_URL = `postgresql://postgres@127.0.0.1:${primaryPort}/postgres`;
    const { BrokerHarness } = await import('./support/broker-harness');
    const env: Record<string, string> = { AUDIT_SEAL_INTERVAL_MS: '0' };
    h = await BrokerHarness.start(env, (url) => {
      const u = new URL(url);
      u.port = String(replicaPort);
      replicaUrl = u.toString();
      // Read by the harness right after this returns (its env spreads these after DATABASE_URL).
      env.AUDIT_READ_DATABASE_URL = replicaUrl;
      return url;
    });
    replica = new Client({ connectionString: replicaUrl });
    // The last test stops the replica under this client.
    replica.on('error', () => undefined);
    await waitFor('the replica to have the test database', async () => {
      await replica.connect();
      return true;
    });
    auditor = h.operatorToken(['auditor'], { subject: 'replica-auditor@example.com' });
  }, 120_000);

  const testDatabaseUrl = process.env.TEST_DATABASE_URL;
  afterAll(async () => {
    await replica?.end().catch(() => undefined);
    await h?.close();
    if (testDatabaseUrl === undefined) delete process.env.TEST_DATABASE_URL;
    else process.env.TEST_DATABASE_URL = testDatabaseUrl;
    for (const d of ['replica', 'primary']) {
      try {
        pg('pg_ctl', ['-D', join(dir, d), '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already stopped
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const eventsPage = async (query: string) => {
    const res = await h.send('GET', `/v1/audit/events?${query}`, undefined, { authorization: `Bearer ${auditor}` });
    expect(res.status).toBe(200);
    return res.body.events as Array<{ requestId: string; action: string }>;
  };

  it('readiness names the replica and its replay lag, and the lag is a metric', async () => {
    const res = await h.send('GET', '/health/ready');
    expect(res.status).toBe(200);
    expect((res.body.details as Record<string, unknown>).auditReadReplica).toEqual({
      status: 'up',
      replica: `127.0.0.1:${replicaPort}/${h.db.name}`,
      reachable: true,
      replayLagMs: expect.any(Number),
      readsFrom: 'replica',
    });
    expect(await h.metrics()).toMatch(/^broker_audit_replica_lag_seconds \d/m);
  });

  it('auditor reads come from the replica, issuance and sealing from the primary; a just-issued session is found on the primary', async () => {
    // Replay paused: whatever the primary writes now is not on the replica yet.
    await replica.query('SELECT pg_wal_replay_pause()');
    try {
      const device = await h.enrollDevice();
      const issued = await h.issue(device);
      expect(issued.status).toBe(201);
      const requestId = issued.body.requestId as string;
      await waitFor('the issuance on the primary', async () => ((await h.auditEvents(requestId)).length >= 2 ? true : undefined));

      // Lists, stats and exports read the replica, which has not seen the issuance.
      expect((await eventsPage(`requestId=${requestId}`)).length).toBe(0);
      const stats = await h.send('GET', `/v1/audit/stats?requestId=${requestId}`, undefined, { authorization: `Bearer ${auditor}` });
      expect(stats.status).toBe(200);
      expect(stats.body.buckets).toEqual([]);
      const exported = await h.send('GET', `/v1/audit/events/export?format=ndjson&requestId=${requestId}`, undefined, { authorization: `Bearer ${auditor}` });
      expect(exported.status).toBe(200);
      expect(exported.text).toBe('');

      // The lookup of the just-issued session falls back to the primary.
      const lookup = await h.post('/v1/audit/sessions/lookup', { sessionId: issued.body.sessionId }, { authorization: `Bearer ${auditor}` });
      expect(lookup.status).toBe(200);
      expect(lookup.body.issuance).toMatchObject({ action: 'session.issued', requestId });

      // Sealing writes on the primary (the replica is read-only): it works with replay paused.
      const seals = await h.app.get(AuditSealer).sealUpTo(await h.app.get(SealRepository).allocatedWatermark());
      expect(seals.length).toBeGreaterThan(0);
      expect((await replica.query('SELECT count(*)::int AS n FROM audit_seal')).rows).toEqual([{ n: 0 }]);

      // Lag is reported while replay stands still.
      await new Promise((r) => setTimeout(r, 1_200));
      const ready = await h.send('GET', '/health/ready');
      expect((ready.body.details as Record<string, { replayLagMs: number }>).auditReadReplica.replayLagMs).toBeGreaterThan(1_000);
    } finally {
      await replica.query('SELECT pg_wal_replay_resume()');
    }
    const caughtUp = await waitFor('the replica to replay the issuance', async () => {
      const seen = (await replica.query(`SELECT count(*)::int AS n FROM audit_event WHERE action = 'session.issued'`)).rows[0].n as number;
      return seen > 0 ? seen : undefined;
    });
    expect(caughtUp).toBeGreaterThan(0);
    expect((await eventsPage('action=session.issued')).length).toBe(caughtUp);
    await h.expectNoSecretsLeaked();
  });

  it('a replica that goes away: auditor reads fall back to the primary, readiness says so, issuance is not affected', async () => {
    pg('pg_ctl', ['-D', join(dir, 'replica'), '-m', 'fast', '-w', 'stop']);
    replicaRunning = false;
    await replica.end().catch(() => undefined);

    const device = await h.enrollDevice();
    const issued = await h.issue(device);
    expect(issued.status).toBe(201);
    const requestId = issued.body.requestId as string;
    await waitFor('the issuance on the primary', async () => ((await h.auditEvents(requestId)).length >= 2 ? true : undefined));
    expect((await eventsPage(`requestId=${requestId}`)).map((e) => e.action)).toEqual(['session.issued', 'session.requested']);
    const verify = await h.send('GET', '/v1/audit/verify', undefined, { authorization: `Bearer ${auditor}` });
    expect(verify.status).toBe(200);

    const ready = await h.send('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect((ready.body.details as Record<string, unknown>).auditReadReplica).toMatchObject({
      status: 'up',
      replica: `127.0.0.1:${replicaPort}/${h.db.name}`,
      reachable: false,
      readsFrom: 'primary',
    });
    expect(h.logs.text).toContain(`audit read replica 127.0.0.1:${replicaPort}/${h.db.name} unreachable`);
    expect(replicaRunning).toBe(false);
    await h.expectNoSecretsLeaked();
  });
});
