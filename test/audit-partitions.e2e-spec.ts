import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseConnection } from '../src/database/database-connection';
import { migrate } from '../src/database/database.module';
import { defaultMigrationsDir, MigrationRunner } from '../src/database/migration-runner';
import { AuditPartitions } from '../src/audit/audit-partitions';
import { AuditRetention } from '../src/audit/seal/audit-retention';
import { AuditSealer } from '../src/audit/seal/audit-sealer';
import { AuditVerifier } from '../src/audit/seal/audit-verifier';
import { SealRepository } from '../src/audit/seal/seal.repository';
import { seedEvents } from './support/audit-seeding';
import { BrokerHarness } from './support/broker-harness';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const PARTITIONING = '20261130800000_audit_event_partitioned';
const DAY = 86_400_000;

/** Every column of every event as text, in id order: what a seal hashes, so equal text means the seals still verify. */
const allEvents = (db: TestDatabase) => db.query<{ id: string; row: string }>(`SELECT id::text, (e.*)::text AS row FROM audit_event e ORDER BY e.id`);

async function migrateUpTo(db: TestDatabase, exclusive: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'psb-migrations-'));
  try {
    for (const name of readdirSync(defaultMigrationsDir())) {
      if (name < exclusive) cpSync(join(defaultMigrationsDir(), name), join(dir, name), { recursive: true });
    }
    const connection = await DatabaseConnection.open({ databaseUrl: db.url, poolMax: 1, pgliteDataDir: 'unused' });
    const runner = await connection.openScriptRunner();
    try {
      await new MigrationRunner(runner, dir).migrate();
    } finally {
      await runner.close();
      await connection.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('audit_event partitioned by time (migration 20261130800000)', () => {
  it('converts a populated unpartitioned table with every event kept, same id, same values, same order', async () => {
    const db = await createTestDatabase();
    try {
      await migrateUpTo(db, PARTITIONING);
      expect(await db.query(`SELECT relkind FROM pg_class WHERE relname = 'audit_event'`)).toEqual([{ relkind: 'r' }]);
      // Three months of history, inserted out of time order, with a gap in the ids.
      await db.query(
        `INSERT INTO audit_event (occurred_at, action, outcome, actor_type, request_id, scope, details, latency_ms)
         SELECT now() - ((i * 7919) % 90) * interval '1 day' - i * interval '1 second', 'session.issued', 'issued', 'device',
                'rq-' || i, '{"command":"doDeal"}'::jsonb, jsonb_build_object('n', i), i % 300
           FROM generate_series(1, 3000) AS i`,
      );
      await db.query(`SELECT setval('audit_event_id_seq', nextval('audit_event_id_seq') + 1000)`);
      await db.query(`INSERT INTO audit_event (occurred_at, action, outcome, actor_type, request_id) VALUES (now(), 'after.gap', 'success', 'system', 'gap')`);
      const before = await allEvents(db);
      expect(before).toHaveLength(3001);

      const connection = await DatabaseConnection.open({ databaseUrl: db.url, poolMax: 1, pgliteDataDir: 'unused' });
      try {
        expect(await migrate(connection)).toContain(PARTITIONING);
      } finally {
        await connection.close();
      }

      expect(await db.query(`SELECT relkind FROM pg_class WHERE relname = 'audit_event'`)).toEqual([{ relkind: 'p' }]);
      expect(await allEvents(db)).toEqual(before);
      // Each event in its month's partition; none left for the DEFAULT partition.
      const placed = await db.query<{ wrong: number; in_default: number; partitions: number }>(
        `SELECT count(*) FILTER (WHERE to_char(occurred_at AT TIME ZONE 'UTC', 'YYYYMM') || '01' <> right(tableoid::regclass::text, 8))::int AS wrong,
                count(*) FILTER (WHERE tableoid = 'audit_event_default'::regclass)::int AS in_default,
                count(DISTINCT tableoid)::int AS partitions
           FROM audit_event`,
      );
      expect(placed).toEqual([{ wrong: 0, in_default: 0, partitions: expect.any(Number) }]);
      expect(placed[0].partitions).toBeGreaterThanOrEqual(3);
      // The next events continue the sequence.
      const [next] = await db.query<{ id: string }>(
        `INSERT INTO audit_event (occurred_at, action, outcome, actor_type, request_id) VALUES (now(), 'next', 'success', 'system', 'n') RETURNING id::text`,
      );
      expect(BigInt(next.id)).toBe(BigInt(before[before.length - 1].id) + 1n);
      // Partitions for the coming months exist already.
      const [ahead] = await db.query<{ upto: Date }>(`SELECT max(range_to) AS upto FROM audit_event_partition_ranges()`);
      expect(ahead.upto.getTime()).toBeGreaterThan(Date.now() + 55 * DAY);
    } finally {
      await db.drop();
    }
  }, 60_000);

  it('keeps every partition append-only: UPDATE, DELETE and TRUNCATE aimed at a partition itself are refused', async () => {
    const db = await createTestDatabase();
    const connection = await DatabaseConnection.open({ databaseUrl: db.url, poolMax: 1, pgliteDataDir: 'unused' });
    try {
      await migrate(connection);
      await db.query(`SELECT audit_event_prepare_partitions('month', 2, now() - interval '70 days')`);
      await db.query(
        `INSERT INTO audit_event (occurred_at, action, outcome, actor_type, request_id)
         VALUES (now(), 'x', 'success', 'system', 'r1'), (now() - interval '40 days', 'x', 'success', 'system', 'r2'),
                ('2001-01-01', 'x', 'success', 'system', 'r3')`,
      );
      // The three partitions holding a row (this month's, one 40 days ago, the DEFAULT one), and every other.
      const holding = (await db.query<{ part: string }>(`SELECT DISTINCT tableoid::regclass::text AS part FROM audit_event`)).map((p) => p.part);
      expect(holding).toHaveLength(3);
      expect(holding).toContain('audit_event_default');
      for (const part of holding) {
        await expect(db.query(`UPDATE ${part} SET outcome = 'failed'`)).rejects.toThrow(/append-only/);
        await expect(db.query(`DELETE FROM ${part}`)).rejects.toThrow(/append-only/);
      }
      const all = await db.query<{ part: string }>(`SELECT part::text FROM audit_event_partition_ranges() UNION SELECT 'audit_event_default'`);
      expect(all.length).toBeGreaterThanOrEqual(5);
      for (const { part } of all) await expect(db.query(`TRUNCATE ${part}`)).rejects.toThrow(/append-only/);
      await expect(db.query(`UPDATE audit_event SET outcome = 'failed'`)).rejects.toThrow(/append-only/);
      await expect(db.query(`DELETE FROM audit_event`)).rejects.toThrow(/append-only/);
      await expect(db.query(`TRUNCATE audit_event`)).rejects.toThrow(/append-only/);
      expect(await db.query('SELECT count(*)::int AS n FROM audit_event')).toEqual([{ n: 3 }]);
      // Nobody but the owner may reach a partition directly.
      const grants = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM information_schema.role_table_grants WHERE table_name LIKE 'audit_event_%' AND grantee = 'PUBLIC'`,
      );
      expect(grants).toEqual([{ n: 0 }]);
    } finally {
      await connection.close();
      await db.drop();
    }
  }, 60_000);
});

/** audit_event_YYYYMM01: the partition of this month. */
function monthPartition(at: Date): string {
  return `audit_event_${at.toISOString().slice(0, 7).replace('-', '')}01`;
}

describe('audit partitions in a running broker', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ AUDIT_PARTITION_INTERVAL_MS: '0', AUDIT_SEAL_INTERVAL_MS: '0', AUDIT_SEAL_MAX_EVENTS: '50', AUDIT_RETENTION_DAYS: '30' });
  });
  afterAll(() => h?.close());

  it('keeps an event that arrives while its period has no partition, and moves it into the partition when the job creates it', async () => {
    const current = monthPartition(new Date());
    // The job has not run: this month's partition does not exist (its rows so far kept, in the DEFAULT partition).
    await h.db.query(`BEGIN`);
    await h.db.query(`CREATE TEMP TABLE kept AS SELECT * FROM ${current}`);
    await h.db.query(`ALTER TABLE audit_event DETACH PARTITION ${current}`);
    await h.db.query(`DROP TABLE ${current}`);
    await h.db.query(`INSERT INTO audit_event SELECT * FROM kept`);
    await h.db.query(`COMMIT`);
    const before = await allEvents(h.db);

    const auditor = h.operatorToken(['auditor'], { subject: 'partition-auditor@example.com' });
    const res = await h.send('GET', '/v1/audit/events?limit=1', undefined, { authorization: `Bearer ${auditor}` });
    expect(res.status).toBe(200);
    let arrived: Array<{ id: string; part: string }> = [];
    for (let i = 0; i < 50 && arrived.length === 0; i++) {
      arrived = await h.db.query(`SELECT id::text, tableoid::regclass::text AS part FROM audit_event WHERE actor_id = 'partition-auditor@example.com'`);
      if (arrived.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(arrived).toEqual([{ id: expect.any(String), part: 'audit_event_default' }]);

    const round = await h.app.get(AuditPartitions).prepare();
    expect(round.created).toContain(current);
    expect(round.moved).toBeGreaterThanOrEqual(before.length + 1);
    const [moved] = await h.db.query<{ id: string; part: string }>(
      `SELECT id::text, tableoid::regclass::text AS part FROM audit_event WHERE actor_id = 'partition-auditor@example.com'`,
    );
    expect(moved).toEqual({ id: arrived[0].id, part: current });
    expect(await h.db.query(`SELECT count(*)::int AS n FROM audit_event_default`)).toEqual([{ n: 0 }]);
    // Nothing lost or changed by the move.
    const after = await allEvents(h.db);
    expect(after.filter((e) => before.some((b) => b.id === e.id))).toEqual(before);
    // The new partition is as append-only as the others, and a second round has nothing to do.
    await expect(h.db.query(`UPDATE ${current} SET outcome = 'failed'`)).rejects.toThrow(/append-only/);
    await expect(h.db.query(`DELETE FROM ${current}`)).rejects.toThrow(/append-only/);
    await expect(h.db.query(`TRUNCATE ${current}`)).rejects.toThrow(/append-only/);
    expect(await h.app.get(AuditPartitions).prepare()).toEqual({ created: [], moved: 0 });
  });
});

describe('audit retention on partitions', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ AUDIT_PARTITION_INTERVAL_MS: '0', AUDIT_SEAL_INTERVAL_MS: '0', AUDIT_SEAL_MAX_EVENTS: '50', AUDIT_RETENTION_DAYS: '30' });
  });
  afterAll(() => h?.close());

  it('retention drops whole expired partitions in one statement each, records it, and verify starts from the retention anchor', async () => {
    const now = Date.now();
    await h.app.get(AuditPartitions).prepare(new Date(now - 150 * DAY));
    const old = await seedEvents(h.db, 100, { start: new Date(now - 120 * DAY) });
    const oldPartition = monthPartition(new Date(now - 120 * DAY));
    expect(await h.db.query(`SELECT DISTINCT tableoid::regclass::text AS part FROM audit_event WHERE id = ANY($1::bigint[])`, [old])).toEqual([
      { part: oldPartition },
    ]);
    await seedEvents(h.db, 60);
    await h.app.get(AuditSealer).sealUpTo(await h.app.get(SealRepository).allocatedWatermark());

    const started = performance.now();
    const results = await h.app.get(AuditRetention).purgeExpired();
    const seconds = (performance.now() - started) / 1000;
    expect(seconds).toBeLessThan(1);
    expect(results.length).toBeGreaterThanOrEqual(1);
    const dropped = results.flatMap((r) => r.partitionsDropped as string[]);
    expect(dropped).toContain(oldPartition);
    expect(await h.db.query(`SELECT to_regclass($1) AS t`, [oldPartition])).toEqual([{ t: null }]);
    expect(await h.db.query(`SELECT count(*)::int AS n FROM audit_event WHERE id = ANY($1::bigint[])`, [old])).toEqual([{ n: 0 }]);

    // Recorded: the retention table and an audit event naming the dropped partition.
    const last = results[results.length - 1];
    const [event] = await h.db.query<{ details: Record<string, unknown> }>(
      `SELECT details FROM audit_event WHERE action = 'audit.retention.purged' AND details->>'retentionId' = $1`,
      [last.retentionId],
    );
    expect(event.details).toMatchObject({ throughSealSeq: last.throughSealSeq, partitionsDropped: expect.arrayContaining([oldPartition]) });
    const [retention] = await h.db.query<{ through_seal_seq: string }>(`SELECT max(through_seal_seq)::text AS through_seal_seq FROM audit_retention`);
    expect(retention.through_seal_seq).toBe(last.throughSealSeq);

    // The chain still verifies, from the anchor the retention record keeps, and the report says so.
    const report = await h.app.get(AuditVerifier).verify({});
    expect(report).toMatchObject({
      ok: true,
      firstSealSeq: String(BigInt(last.throughSealSeq as string) + 1n),
      anchor: { throughSealSeq: last.throughSealSeq, throughEventId: last.throughEventId, source: 'retention' },
    });
    const auditor = h.operatorToken(['auditor']);
    const res = await h.send('GET', '/v1/audit/verify', undefined, { authorization: `Bearer ${auditor}` });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, anchor: { throughSealSeq: last.throughSealSeq, source: 'retention' } });
  });
});

describe('audit retention of a large partition', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({
      AUDIT_PARTITION_INTERVAL_MS: '0',
      AUDIT_SEAL_INTERVAL_MS: '0',
      AUDIT_SEAL_MAX_EVENTS: '100000',
      AUDIT_RETENTION_DAYS: '30',
    });
  });
  afterAll(() => h?.close());

  it('drops a partition of 300,000 sealed events in under a second, with no row deleted one by one', async () => {
    const now = Date.now();
    await h.app.get(AuditPartitions).prepare(new Date(now - 150 * DAY));
    const old = await seedEvents(h.db, 300_000, { start: new Date(now - 120 * DAY) });
    const oldPartition = monthPartition(new Date(now - 120 * DAY));
    await seedEvents(h.db, 10);
    const seals = await h.app.get(AuditSealer).sealUpTo(await h.app.get(SealRepository).allocatedWatermark());
    expect(seals.map((s) => s.eventCount)).toEqual([100_000, 100_000, 100_000, 10]);

    const started = performance.now();
    const results = await h.app.get(AuditRetention).purgeExpired();
    expect((performance.now() - started) / 1000).toBeLessThan(1);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ throughSealSeq: '3', eventsDeleted: '300000', rowsDeleted: '0' });
    expect(results[0].partitionsDropped).toContain(oldPartition);
    expect(await h.db.query(`SELECT count(*)::int AS n FROM audit_event WHERE id <= $1::bigint`, [old[old.length - 1]])).toEqual([{ n: 0 }]);
    expect(await h.app.get(AuditVerifier).verify({})).toMatchObject({ ok: true, firstSealSeq: '4', anchor: { throughSealSeq: '3', source: 'retention' } });
  }, 120_000);
});
