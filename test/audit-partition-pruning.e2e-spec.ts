import { AuditPartitions } from '../src/audit/audit-partitions';
import { AuditTrail } from '../src/audit/audit-trail';
import { AuditSealer } from '../src/audit/seal/audit-sealer';
import { AuditVerifier } from '../src/audit/seal/audit-verifier';
import { SealRepository } from '../src/audit/seal/seal.repository';
import { SealSigner } from '../src/audit/seal/seal-signer';
import { AppConfig } from '../src/config/app-config';
import { DatabaseConnection, type HotPathSql } from '../src/database/database-connection';
import { asOwnerBypassingTriggers, seedEvents } from './support/audit-seeding';
import { BrokerHarness } from './support/broker-harness';

/**
 * audit_event is partitioned by occurred_at while seals cover id ranges: these tests check that
 * sealing and verify read only the partitions of the time their events occurred (the plans
 * Postgres makes for the very statements they send), and that an event whose occurred_at is
 * earlier than events with lower ids is still sealed and verified, and tampering still found.
 */

const DAY = 86_400_000;
const HOUR = 3_600_000;

interface EventRead {
  text: string;
  values: unknown[];
}

/** A SealRepository on the broker's pool that keeps every event read it sends (SQL and values). */
function recordingRepository(h: BrokerHarness): { repo: SealRepository; reads: EventRead[] } {
  const reads: EventRead[] = [];
  const sql = h.app.get(DatabaseConnection).sql;
  const recording: HotPathSql = {
    query: (text, values, name) => sql.query(text, values, name),
    queryArrays: (text, values) => {
      reads.push({ text, values });
      return sql.queryArrays(text, values);
    },
  };
  return { repo: new SealRepository({ sql: recording }), reads };
}

/** The partitions the plan of `read` scans (after plan-time pruning), sorted. */
async function partitionsScanned(h: BrokerHarness, read: EventRead): Promise<string[]> {
  const [row] = await h.db.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${read.text}`, read.values);
  const found = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (typeof n['Relation Name'] === 'string') found.add(n['Relation Name']);
    Object.values(n).forEach(walk);
  };
  walk(row['QUERY PLAN']);
  return [...found].sort();
}

/** The partitions that hold the events with first <= id <= last. */
async function partitionsHolding(h: BrokerHarness, first: string, last: string): Promise<string[]> {
  const rows = await h.db.query<{ part: string }>(
    `SELECT DISTINCT tableoid::regclass::text AS part FROM audit_event WHERE id >= $1::bigint AND id <= $2::bigint ORDER BY 1`,
    [first, last],
  );
  return rows.map((r) => r.part);
}

async function allPartitions(h: BrokerHarness): Promise<string[]> {
  const rows = await h.db.query<{ part: string }>(`SELECT inhrelid::regclass::text AS part FROM pg_inherits WHERE inhparent = 'audit_event'::regclass`);
  return rows.map((r) => r.part).sort();
}

async function watermark(h: BrokerHarness): Promise<bigint> {
  return h.app.get(SealRepository).allocatedWatermark();
}

describe('sealing and verify read only the partitions of their events’ time', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ AUDIT_PARTITION_INTERVAL_MS: '0', AUDIT_SEAL_INTERVAL_MS: '0', AUDIT_SEAL_MAX_EVENTS: '40' });
    // Monthly partitions from seven months back: history in three of them, the rest empty.
    await h.app.get(AuditPartitions).prepare(new Date(Date.now() - 210 * DAY));
  });
  afterAll(() => h?.close());

  it('the sealer reads from its newest seal’s earliest event (less a margin) on; verify reads each seal’s own span', async () => {
    const now = Date.now();
    await seedEvents(h.db, 30, { start: new Date(now - 180 * DAY), stepMs: 1000 });
    await h.app.get(AuditSealer).sealUpTo(await watermark(h));
    const older = await seedEvents(h.db, 30, { start: new Date(now - 100 * DAY), stepMs: 1000 });
    await h.app.get(AuditSealer).sealUpTo(await watermark(h));
    await seedEvents(h.db, 60, { start: new Date(now - HOUR), stepMs: 1000 });

    const sealing = recordingRepository(h);
    const sealer = new AuditSealer(sealing.repo, h.app.get(SealSigner), h.app.get(AppConfig));
    const made = await sealer.sealUpTo(await watermark(h));
    expect(made.map((s) => s.eventCount)).toEqual([40, 20]);
    expect(sealing.reads).toHaveLength(2);
    // The first read starts after the seal of the events of 100 days ago, the second after the first new seal.
    const [{ since: firstSince }] = await h.db.query<{ since: Date }>(
      `SELECT min(occurred_at) - interval '2 hours' AS since FROM audit_event WHERE id >= $1::bigint AND id <= $2::bigint`,
      [older[0], older[older.length - 1]],
    );
    const from = async (since: Date) =>
      (
        await h.db.query<{ part: string }>(
          `SELECT part::text FROM audit_event_partition_ranges() WHERE range_to > $1::timestamptz UNION SELECT 'audit_event_default' ORDER BY 1`,
          [since],
        )
      ).map((r) => r.part);
    const every = await allPartitions(h);
    expect(every.length).toBeGreaterThanOrEqual(10);
    expect(await partitionsScanned(h, sealing.reads[0])).toEqual(await from(firstSince));
    expect(await partitionsScanned(h, sealing.reads[1])).toEqual(await from(new Date(now - 3 * HOUR)));
    expect((await partitionsScanned(h, sealing.reads[1])).length).toBeLessThan(every.length / 2);

    const verifying = recordingRepository(h);
    const report = await new AuditVerifier(verifying.repo, h.app.get(SealSigner)).verify({});
    expect(report).toMatchObject({ ok: true, sealsChecked: 4, eventsChecked: 120 });
    const seals = await h.db.query<{ first: string; last: string }>(
      `SELECT first_event_id::text AS first, last_event_id::text AS last FROM audit_seal ORDER BY seq`,
    );
    expect(verifying.reads).toHaveLength(seals.length);
    for (const [i, seal] of seals.entries()) {
      expect(await partitionsScanned(h, verifying.reads[i])).toEqual(await partitionsHolding(h, seal.first, seal.last));
    }
  });

  it('finds a row forged under a sealed event’s id, in another partition or in the seal’s own span, and reads only that seal over every partition', async () => {
    const verifier = h.app.get(AuditVerifier);
    expect(await verifier.verify({})).toMatchObject({ ok: true });
    // The seal of the events of 180 days ago: none of its span's partitions holds anything of 20 days ago.
    const [seal] = await h.db.query<{ seq: string; first: string; last: string; gaps: unknown[] }>(
      `SELECT seq::text, first_event_id::text AS first, last_event_id::text AS last, gaps FROM audit_seal ORDER BY seq LIMIT 1`,
    );
    expect(seal.gaps).toEqual([]);
    const id = String(BigInt(seal.first) + 5n);
    // Only an INSERT that names the id can do this (the sequence never hands out an id twice), as the table owner.
    const forge = (at: string, params: unknown[]) =>
      h.db.query(
        `INSERT INTO audit_event SELECT (jsonb_populate_record(e, jsonb_build_object('occurred_at', ${at}, 'outcome', 'success'))).* FROM audit_event e WHERE e.id = $1::bigint`,
        [id, ...params],
      );
    const unforge = (at: string, params: unknown[]) =>
      asOwnerBypassingTriggers(h.db, 'audit_event', `DELETE FROM audit_event WHERE id = $1::bigint AND occurred_at ${at}`, [id, ...params]);
    const [original] = await h.db.query<{ at: string }>(
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM audit_event WHERE id = $1::bigint`,
      [id],
    );
    // Named, with the time of each of its rows, in the auditor's words.
    const twice = (forgedAt: string) => ({
      ok: false,
      problem: {
        kind: 'unexpected-event',
        sealSeq: seal.seq,
        eventId: id,
        detail: expect.stringMatching(
          new RegExp(
            `^The event id appears twice: .* Its rows occurred at (${original.at} and ${forgedAt}|${forgedAt} and ${original.at}); the seal’s events span `,
          ),
        ),
      },
    });

    const forgedAt = new Date(Date.now() - 20 * DAY).toISOString();
    await forge('$2::timestamptz', [forgedAt]);
    expect(await partitionsHolding(h, id, id)).toHaveLength(2);
    const verifying = recordingRepository(h);
    expect(await new AuditVerifier(verifying.repo, h.app.get(SealSigner)).verify({})).toMatchObject(twice(forgedAt));
    // Every seal was read within its span; only the one holding the forged id again, over every partition.
    const unbounded = verifying.reads.filter((r) => !r.text.includes('occurred_at >='));
    expect(unbounded).toHaveLength(1);
    expect(unbounded[0].values).toEqual([seal.first, seal.last]);
    // A verify of a range without that seal is not concerned.
    const [second] = await h.db.query<{ min: Date }>(`SELECT min_occurred_at AS min FROM audit_seal ORDER BY seq OFFSET 1 LIMIT 1`);
    expect(await verifier.verify({ from: second.min.toISOString() })).toMatchObject({ ok: true, firstSealSeq: String(BigInt(seal.seq) + 1n) });
    // Still the first problem in the chain when a later seal fails too.
    const [later] = await h.db.query<{ seq: string; last: string }>(`SELECT seq::text, last_event_id::text AS last FROM audit_seal ORDER BY seq DESC LIMIT 1`);
    const edit = (outcome: string) =>
      asOwnerBypassingTriggers(h.db, 'audit_event', `UPDATE audit_event SET outcome = $2 WHERE id = $1::bigint`, [later.last, outcome]);
    const [{ outcome }] = await h.db.query<{ outcome: string }>(`SELECT outcome FROM audit_event WHERE id = $1::bigint`, [later.last]);
    await edit('success');
    expect(await verifier.verify({})).toMatchObject(twice(forgedAt));
    expect(await verifier.verify({ from: second.min.toISOString() })).toMatchObject({
      problem: { kind: 'altered-event', sealSeq: later.seq, eventId: later.last },
    });
    await edit(outcome);
    await unforge(`> $2::timestamptz`, [new Date(Date.now() - 30 * DAY).toISOString()]);
    expect(await verifier.verify({})).toMatchObject({ ok: true });

    // The same id a millisecond after the original: in the span the seal's read covers.
    await forge(`e.occurred_at + interval '1 millisecond'`, []);
    expect(await partitionsHolding(h, id, id)).toHaveLength(1);
    expect(await verifier.verify({})).toMatchObject(twice(new Date(Date.parse(original.at) + 1).toISOString()));
    await unforge(`= (SELECT max(occurred_at) FROM audit_event WHERE id = $1::bigint)`, []);
    expect(await verifier.verify({})).toMatchObject({ ok: true });
  });

  it('seals and verifies events whose occurred_at is earlier than sealed events with lower ids, and still finds tampering', async () => {
    const now = Date.now();
    const trail = h.app.get(AuditTrail);
    const written = async (requestId: string) =>
      (await h.db.query<{ id: string; at: string }>(`SELECT id::text, occurred_at::text AS at FROM audit_event WHERE request_id = $1`, [requestId]))[0];
    // An aggregated auth refusal carries the time of its last refusal: within the sealer's margin…
    await trail.record({
      action: 'auth.refused',
      outcome: 'denied',
      actorType: 'device',
      requestId: 'late-by-30-min',
      occurredAt: new Date(now - 2 * HOUR - 30 * 60_000),
    });
    // …and, written again after a database outage, weeks behind the events sealed before it.
    await trail.record({ action: 'auth.refused', outcome: 'denied', actorType: 'device', requestId: 'late-by-40-days', occurredAt: new Date(now - 40 * DAY) });
    await seedEvents(h.db, 5, { start: new Date(now), stepMs: 1000 });
    const nearLate = await written('late-by-30-min');
    const farLate = await written('late-by-40-days');
    const [{ newest }] = await h.db.query<{ newest: string }>(`SELECT max(last_event_id)::text AS newest FROM audit_seal`);
    expect(BigInt(nearLate.id)).toBeGreaterThan(BigInt(newest));
    expect(BigInt(farLate.id)).toBeGreaterThan(BigInt(nearLate.id));

    const made = await h.app.get(AuditSealer).sealUpTo(await watermark(h));
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ firstEventId: String(BigInt(newest) + 1n), eventCount: 7 });
    const [seal] = await h.db.query<{ gaps: unknown[]; min: Date }>(`SELECT gaps, min_occurred_at AS min FROM audit_seal WHERE seq = $1::bigint`, [
      made[0].seq,
    ]);
    expect(seal.gaps).toEqual([]);
    expect(seal.min.getTime()).toBe(now - 40 * DAY);

    const verifier = h.app.get(AuditVerifier);
    expect(await verifier.verify({})).toMatchObject({ ok: true, eventsChecked: 127, unsealedEvents: 0 });

    // An edited late event.
    await asOwnerBypassingTriggers(h.db, 'audit_event', `UPDATE audit_event SET outcome = 'success' WHERE id = $1::bigint`, [farLate.id]);
    expect((await verifier.verify({})).problem).toMatchObject({ kind: 'altered-event', sealSeq: made[0].seq, eventId: farLate.id });
    await asOwnerBypassingTriggers(h.db, 'audit_event', `UPDATE audit_event SET outcome = 'denied' WHERE id = $1::bigint`, [farLate.id]);
    expect(await verifier.verify({})).toMatchObject({ ok: true });

    // An event moved out of its seal's time span (into another partition): named as altered, not lost.
    await asOwnerBypassingTriggers(h.db, 'audit_event', `UPDATE audit_event SET occurred_at = occurred_at - interval '90 days' WHERE id = $1::bigint`, [
      nearLate.id,
    ]);
    expect((await written('late-by-30-min')).at).not.toBe(nearLate.at);
    expect((await verifier.verify({})).problem).toMatchObject({ kind: 'altered-event', sealSeq: made[0].seq, eventId: nearLate.id });

    await asOwnerBypassingTriggers(h.db, 'audit_event', `UPDATE audit_event SET occurred_at = $2::timestamptz WHERE id = $1::bigint`, [
      nearLate.id,
      nearLate.at,
    ]);
    expect(await verifier.verify({})).toMatchObject({ ok: true });

    // A deleted one.
    await asOwnerBypassingTriggers(h.db, 'audit_event', `DELETE FROM audit_event WHERE id = $1::bigint`, [farLate.id]);
    expect((await verifier.verify({})).problem).toMatchObject({ kind: 'missing-event', sealSeq: made[0].seq, eventId: farLate.id });
  });
});
