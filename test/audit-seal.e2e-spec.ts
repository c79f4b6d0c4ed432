import { Client } from 'pg';
import { AuditRetention } from '../src/audit/seal/audit-retention';
import { AuditSealer } from '../src/audit/seal/audit-sealer';
import { AuditVerifier } from '../src/audit/seal/audit-verifier';
import { sealHash, type SealHeader } from '../src/audit/seal/seal-format';
import { SealRepository } from '../src/audit/seal/seal.repository';
import { asOwnerBypassingTriggers, seedEvents } from './support/audit-seeding';
import { BrokerHarness } from './support/broker-harness';

const DAY = 86_400_000;

async function sealAll(h: BrokerHarness) {
  const watermark = await h.app.get(SealRepository).allocatedWatermark();
  return h.app.get(AuditSealer).sealUpTo(watermark);
}

describe('audit seals (Postgres)', () => {
  let h: BrokerHarness;
  let verifier: AuditVerifier;

  beforeAll(async () => {
    h = await BrokerHarness.start({ AUDIT_SEAL_INTERVAL_MS: '0', AUDIT_SEAL_MAX_EVENTS: '50' });
    verifier = h.app.get(AuditVerifier);
  });
  afterAll(() => h?.close());

  it('seals committed events in id order, chained, at most AUDIT_SEAL_MAX_EVENTS each, and verifies them', async () => {
    await seedEvents(h.db, 120);
    const made = await sealAll(h);
    expect(made.map((s) => s.eventCount)).toEqual([50, 50, 20]);
    expect(made.map((s) => s.seq)).toEqual(['1', '2', '3']);
    expect(BigInt(made[1].firstEventId)).toBe(BigInt(made[0].lastEventId) + 1n);
    expect(await sealAll(h)).toEqual([]);

    const seals = await h.db.query<{ seq: string; prev: string; hash: string }>(
      `SELECT seq::text, encode(prev_hash, 'hex') AS prev, encode(hash, 'hex') AS hash FROM audit_seal ORDER BY seq`,
    );
    expect(seals[0].prev).toBe('0'.repeat(64));
    expect(seals[1].prev).toBe(seals[0].hash);

    const report = await verifier.verify({});
    expect(report).toMatchObject({ ok: true, sealsChecked: 3, eventsChecked: 120, firstSealSeq: '1', lastSealSeq: '3', unsealedEvents: 0 });
    expect(report.newestSeal).toMatchObject({ seq: '3', hash: seals[2].hash });
  });

  it('lets concurrent sealers (two instances) take turns without overlapping', async () => {
    await seedEvents(h.db, 230);
    const watermark = await h.app.get(SealRepository).allocatedWatermark();
    const sealer = h.app.get(AuditSealer);
    const [a, b] = await Promise.all([sealer.sealUpTo(watermark), sealer.sealUpTo(watermark)]);
    const all = [...a, ...b].sort((x, y) => Number(x.seq) - Number(y.seq));
    expect(all.reduce((n, s) => n + s.eventCount, 0)).toBe(230);
    for (let i = 1; i < all.length; i++) expect(BigInt(all[i].firstEventId)).toBe(BigInt(all[i - 1].lastEventId) + 1n);
    expect(await verifier.verify({})).toMatchObject({ ok: true, eventsChecked: 350 });
  });

  it('records ids of rolled-back inserts as gaps, so verify still passes', async () => {
    await seedEvents(h.db, 5);
    await h.db.query('BEGIN');
    await seedEvents(h.db, 3);
    await h.db.query('ROLLBACK');
    await seedEvents(h.db, 5);
    const [seal] = await sealAll(h);
    const [row] = await h.db.query<{ gaps: string[][] }>('SELECT gaps FROM audit_seal WHERE seq = $1', [seal.seq]);
    expect(row.gaps).toHaveLength(1);
    expect(BigInt(row.gaps[0][1]) - BigInt(row.gaps[0][0])).toBe(2n);
    expect(await verifier.verify({})).toMatchObject({ ok: true });
  });

  it('reports an event that committed after its id was sealed as a gap as unexpected', async () => {
    const late = new Client({ connectionString: h.db.url });
    await late.connect();
    try {
      await late.query('BEGIN');
      const [{ id }] = (
        await late.query(
          `INSERT INTO audit_event (occurred_at, action, outcome, actor_type, request_id) VALUES (now(), 'late.event', 'success', 'system', 'late') RETURNING id::text`,
        )
      ).rows as Array<{ id: string }>;
      await seedEvents(h.db, 4);
      await sealAll(h);
      await late.query('COMMIT');
      const report = await verifier.verify({});
      expect(report.ok).toBe(false);
      expect(report.problem).toMatchObject({ kind: 'unexpected-event', eventId: id });
    } finally {
      await late.end();
    }
  });
});

describe('audit verify catches tampering by the database owner', () => {
  let h: BrokerHarness;
  let verifier: AuditVerifier;
  const base = Date.parse('2026-06-01T00:00:00.000Z');
  const ids: string[][] = [];
  let rolledBack: string[] = [];

  beforeAll(async () => {
    h = await BrokerHarness.start({ AUDIT_SEAL_INTERVAL_MS: '0', AUDIT_SEAL_MAX_EVENTS: '10' });
    verifier = h.app.get(AuditVerifier);
    // Six seals of ten events, each seal's events on a day of their own.
    for (let day = 0; day < 6; day++) {
      if (day === 3) {
        // Ids a rolled-back insert used up: the fourth seal records them as a gap.
        await h.db.query('BEGIN');
        rolledBack = await seedEvents(h.db, 2, { start: new Date(base + day * DAY) });
        await h.db.query('ROLLBACK');
      }
      ids.push(await seedEvents(h.db, 10, { start: new Date(base + day * DAY), stepMs: 1000 }));
    }
    expect((await sealAll(h)).length).toBe(6);
    expect(await verifier.verify({})).toMatchObject({ ok: true, sealsChecked: 6 });
  });
  afterAll(() => h?.close());

  const dayRange = (day: number) => ({ from: new Date(base + day * DAY).toISOString(), to: new Date(base + (day + 1) * DAY).toISOString() });

  it('refuses the same changes through the triggers', async () => {
    await expect(h.db.query('UPDATE audit_event SET reason = $1 WHERE id = $2', ['x', ids[0][0]])).rejects.toThrow(/append-only/);
    await expect(h.db.query('DELETE FROM audit_event WHERE id = $1', [ids[0][0]])).rejects.toThrow(/append-only/);
    await expect(h.db.query('TRUNCATE audit_event')).rejects.toThrow(/append-only/);
    await expect(h.db.query('UPDATE audit_seal SET event_count = 1')).rejects.toThrow(/append-only/);
    await expect(h.db.query('DELETE FROM audit_seal WHERE seq = 1')).rejects.toThrow(/append-only/);
    await expect(h.db.query('TRUNCATE audit_seal')).rejects.toThrow(/append-only/);
  });

  // Each case tampers with an earlier seal than the last, so each becomes the first problem.
  it('a deleted event', async () => {
    const victim = ids[5][4];
    await asOwnerBypassingTriggers(h.db, 'audit_event', 'DELETE FROM audit_event WHERE id = $1', [victim]);
    expect((await verifier.verify({})).problem).toMatchObject({ kind: 'missing-event', sealSeq: '6', eventId: victim });
  });

  it('an edited event', async () => {
    const victim = ids[4][7];
    await asOwnerBypassingTriggers(h.db, 'audit_event', `UPDATE audit_event SET outcome = 'denied' WHERE id = $1`, [victim]);
    expect((await verifier.verify({})).problem).toMatchObject({ kind: 'altered-event', sealSeq: '5', eventId: victim });
  });

  it('an event inserted into a sealed range (plain INSERT, which the triggers allow)', async () => {
    await h.db.query(
      `INSERT INTO audit_event (id, occurred_at, action, outcome, actor_type, request_id)
       VALUES ($1::bigint, $2::timestamptz, 'session.issued', 'issued', 'device', 'forged')`,
      [rolledBack[0], new Date(base + 3 * DAY).toISOString()],
    );
    expect((await verifier.verify({})).problem).toMatchObject({ kind: 'unexpected-event', sealSeq: '4', eventId: rolledBack[0] });
  });

  it('an edited seal', async () => {
    await asOwnerBypassingTriggers(h.db, 'audit_seal', `UPDATE audit_seal SET event_count = event_count - 1 WHERE seq = 3`);
    expect((await verifier.verify({})).problem).toMatchObject({ kind: 'altered-seal', sealSeq: '3' });
  });

  it('a seal recomputed without the signing key', async () => {
    const [s] = await h.db.query<Record<string, unknown>>(
      `SELECT seq::text, version, first_event_id::text AS "firstEventId", last_event_id::text AS "lastEventId", event_count AS "eventCount", gaps,
              to_char(min_occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "minOccurredAt",
              to_char(max_occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "maxOccurredAt",
              encode(events_digest, 'hex') AS "eventsDigest", encode(prev_hash, 'hex') AS "prevHash",
              to_char(sealed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "sealedAt"
         FROM audit_seal WHERE seq = 2`,
    );
    const forged = sealHash({
      ...(s as unknown as SealHeader),
      eventCount: Number(s.eventCount),
      version: Number(s.version),
      sealedAt: '2030-01-01T00:00:00.000Z',
    });
    await asOwnerBypassingTriggers(h.db, 'audit_seal', `UPDATE audit_seal SET sealed_at = '2030-01-01T00:00:00Z', hash = decode($1, 'hex') WHERE seq = 2`, [
      forged,
    ]);
    expect((await verifier.verify({})).problem).toMatchObject({ kind: 'bad-signature', sealSeq: '2' });
  });

  it('a deleted seal, while a range before the damage still verifies', async () => {
    await asOwnerBypassingTriggers(h.db, 'audit_seal', 'DELETE FROM audit_seal WHERE seq = 1');
    expect((await verifier.verify({})).problem).toMatchObject({ kind: 'missing-seal', sealSeq: '1' });
    expect((await verifier.verify(dayRange(1))).problem).toMatchObject({ kind: 'missing-seal', sealSeq: '1' });
  });

  it('verifies a range on its own', async () => {
    const fresh = await BrokerHarness.start({ AUDIT_SEAL_INTERVAL_MS: '0', AUDIT_SEAL_MAX_EVENTS: '10' });
    try {
      for (let day = 0; day < 3; day++) await seedEvents(fresh.db, 10, { start: new Date(base + day * DAY), stepMs: 1000 });
      await sealAll(fresh);
      await asOwnerBypassingTriggers(fresh.db, 'audit_event', `UPDATE audit_event SET reason = 'edited' WHERE id = (SELECT max(id) FROM audit_event)`);
      const v = fresh.app.get(AuditVerifier);
      expect(await v.verify(dayRange(0))).toMatchObject({ ok: true, firstSealSeq: '1', lastSealSeq: '1', sealsChecked: 1 });
      expect(await v.verify({ from: dayRange(1).from })).toMatchObject({ ok: false, problem: { kind: 'altered-event', sealSeq: '3' } });
    } finally {
      await fresh.close();
    }
  });
});

describe('audit retention', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    h = await BrokerHarness.start({ AUDIT_SEAL_INTERVAL_MS: '0', AUDIT_SEAL_MAX_EVENTS: '50', AUDIT_RETENTION_DAYS: '30' });
  });
  afterAll(() => h?.close());

  it('removes only whole sealed periods older than the retention, records it, and keeps the chain verifiable', async () => {
    const old = await seedEvents(h.db, 120, { start: new Date(Date.now() - 100 * DAY) });
    const recent = await seedEvents(h.db, 60);
    expect((await sealAll(h)).map((s) => s.eventCount)).toEqual([50, 50, 50, 30]);

    const results = await h.app.get(AuditRetention).purgeExpired();
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ throughSealSeq: '2', sealsPurged: 2, eventsDeleted: '100', retentionDays: 30 });

    // Seal 3 mixes expired and recent events: it stays whole.
    const left = await h.db.query<{ id: string }>('SELECT id::text FROM audit_event WHERE action <> $1 ORDER BY id', ['audit.retention.purged']);
    expect(left.map((r) => r.id)).toEqual([...old.slice(100), ...recent]);
    expect((await h.db.query<{ seq: string }>('SELECT seq::text FROM audit_seal ORDER BY seq')).map((r) => r.seq)).toEqual(['3', '4']);

    const [retention] = await h.db.query<{ through_seal_seq: string; seals_purged: number }>(
      'SELECT through_seal_seq::text, seals_purged FROM audit_retention',
    );
    expect(retention).toMatchObject({ through_seal_seq: '2', seals_purged: 2 });
    const [event] = await h.db.query<{ actor_type: string; details: Record<string, unknown> }>(
      `SELECT actor_type, details FROM audit_event WHERE action = 'audit.retention.purged'`,
    );
    expect(event.actor_type).toBe('system');
    expect(event.details).toMatchObject({ throughSealSeq: '2', eventsDeleted: '100' });

    const report = await h.app.get(AuditVerifier).verify({});
    expect(report).toMatchObject({ ok: true, firstSealSeq: '3', lastSealSeq: '4', eventsChecked: 80 });
    expect(await h.app.get(AuditRetention).purgeExpired()).toEqual([]);
  });

  it('refuses deletes outside a purge, and retention records that would break the rules', async () => {
    await expect(h.db.query('DELETE FROM audit_event WHERE id = (SELECT min(id) FROM audit_event)')).rejects.toThrow(/append-only/);
    const insertRecord = (seq: string, cutoff: string) =>
      h.db.query(
        `INSERT INTO audit_retention (cutoff, through_seal_seq, through_seal_hash, through_event_id, seals_purged, events_sealed)
         SELECT $2::timestamptz, seq, hash, last_event_id, 1, event_count FROM audit_seal WHERE seq = $1::bigint`,
        [seq, cutoff],
      );
    // The newest seal, a seal with recent events, and a cutoff of less than a day.
    await expect(insertRecord('4', new Date(Date.now() - 2 * DAY).toISOString())).rejects.toThrow(/other than the newest/);
    await expect(insertRecord('3', new Date(Date.now() - 2 * DAY).toISOString())).rejects.toThrow(/wholly older/);
    await expect(insertRecord('3', new Date().toISOString())).rejects.toThrow(/less than a day/);
    await expect(h.db.query(`SELECT audit_purge_expired(0, 10, 'x')`)).rejects.toThrow(/at least 1/);
    await expect(h.db.query('UPDATE audit_retention SET seals_purged = 0')).rejects.toThrow(/append-only/);
  });
});
