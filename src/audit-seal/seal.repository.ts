import { Inject, Injectable } from '@nestjs/common';
import { DatabaseConnection, type HotPathSql } from '../database/database-connection';
import { EVENT_COLUMNS, type EventRow } from './event-row';
import type { SealHeader } from './seal-format';

/** A seal as stored: the header its hash covers, plus hash, signature and event locators. */
export interface StoredSeal extends SealHeader {
  hash: string;
  keyId: string;
  signature: string;
  locators: Buffer;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

// Ordering must name s.seq: the output alias `seq` is text, and '10' sorts before '9'.
const SEAL_COLUMNS = `s.seq::text AS seq, s.version, s.first_event_id::text AS "firstEventId",
  s.last_event_id::text AS "lastEventId", s.event_count AS "eventCount", s.gaps::text AS gaps,
  to_char(s.min_occurred_at AT TIME ZONE 'UTC', ${ISO}) AS "minOccurredAt",
  to_char(s.max_occurred_at AT TIME ZONE 'UTC', ${ISO}) AS "maxOccurredAt",
  encode(s.events_digest, 'hex') AS "eventsDigest", encode(s.prev_hash, 'hex') AS "prevHash",
  to_char(s.sealed_at AT TIME ZONE 'UTC', ${ISO}) AS "sealedAt", encode(s.hash, 'hex') AS hash, s.key_id AS "keyId",
  encode(s.signature, 'hex') AS signature, encode(s.event_locators, 'hex') AS locators`;

type SealRow = Omit<StoredSeal, 'locators' | 'gaps' | 'version' | 'eventCount'> & {
  locators: string;
  gaps: string;
  version: number | string;
  eventCount: number | string;
};

/**
 * SQL for audit_seal and audit_retention, and the event reads sealing and verifying need. Plain
 * SQL on the broker's pool (HotPathSql): these paths read every event there is.
 */
@Injectable()
export class SealRepository {
  private readonly sql: HotPathSql;

  constructor(@Inject(DatabaseConnection) db: DatabaseConnection) {
    this.sql = db.sql;
  }

  /**
   * Highest event id handed out so far, committed or not. Sequences are not transactional, so
   * this sees ids that open transactions hold: once every such transaction has ended, nothing at
   * or below it can still appear.
   */
  async allocatedWatermark(): Promise<bigint> {
    const [row] = await this.sql.query<{ w: string }>(
      'SELECT (CASE WHEN is_called THEN last_value ELSE last_value - 1 END)::text AS w FROM audit_event_id_seq',
      [],
    );
    return BigInt(row.w);
  }

  async head(): Promise<{ seq: bigint; lastEventId: bigint; hash: string } | null> {
    const rows = await this.sql.query<{ seq: string; last: string; hash: string }>(
      `SELECT s.seq::text AS seq, s.last_event_id::text AS last, encode(s.hash, 'hex') AS hash
         FROM audit_seal s ORDER BY s.seq DESC LIMIT 1`,
      [],
    );
    return rows.length === 0 ? null : { seq: BigInt(rows[0].seq), lastEventId: BigInt(rows[0].last), hash: rows[0].hash };
  }

  /** Up to `limit` events with afterId < id <= upTo, in id order. */
  eventsAfter(afterId: bigint, upTo: bigint, limit: number): Promise<EventRow[]> {
    return this.sql.queryArrays(
      `SELECT ${EVENT_COLUMNS} FROM audit_event e WHERE e.id > $1::bigint AND e.id <= $2::bigint ORDER BY e.id LIMIT $3::int`,
      [String(afterId), String(upTo), limit],
    ) as Promise<EventRow[]>;
  }

  /** Every event with first <= id <= last, in id order. */
  eventsBetween(first: bigint, last: bigint): Promise<EventRow[]> {
    return this.sql.queryArrays(`SELECT ${EVENT_COLUMNS} FROM audit_event e WHERE e.id >= $1::bigint AND e.id <= $2::bigint ORDER BY e.id`, [
      String(first),
      String(last),
    ]) as Promise<EventRow[]>;
  }

  /**
   * Stores a seal unless another instance stored one with the same seq or an overlapping start
   * first (the unique indexes decide): returns whether this one was stored.
   */
  async insertSeal(s: StoredSeal): Promise<boolean> {
    const rows = await this.sql.query(
      `INSERT INTO audit_seal (seq, version, first_event_id, last_event_id, event_count, gaps, min_occurred_at,
           max_occurred_at, event_locators, events_digest, prev_hash, hash, key_id, signature, sealed_at)
       VALUES ($1::bigint, $2::smallint, $3::bigint, $4::bigint, $5::int, $6::jsonb, $7::timestamptz, $8::timestamptz,
           decode($9, 'hex'), decode($10, 'hex'), decode($11, 'hex'), decode($12, 'hex'), $13, decode($14, 'hex'), $15::timestamptz)
       ON CONFLICT DO NOTHING RETURNING 1 AS stored`,
      [
        s.seq,
        s.version,
        s.firstEventId,
        s.lastEventId,
        s.eventCount,
        JSON.stringify(s.gaps),
        s.minOccurredAt,
        s.maxOccurredAt,
        s.locators.toString('hex'),
        s.eventsDigest,
        s.prevHash,
        s.hash,
        s.keyId,
        s.signature,
        s.sealedAt,
      ],
    );
    return rows.length === 1;
  }

  /** First and last seq of the seals whose events' time span meets [from, to). */
  async seqRange(from: string | undefined, to: string | undefined): Promise<{ first: bigint; last: bigint } | null> {
    const [row] = await this.sql.query<{ first: string | null; last: string | null }>(
      `SELECT (SELECT min(seq) FROM audit_seal WHERE $1::timestamptz IS NULL OR max_occurred_at >= $1::timestamptz)::text AS first,
              (SELECT max(seq) FROM audit_seal WHERE $2::timestamptz IS NULL OR min_occurred_at < $2::timestamptz)::text AS last`,
      [from ?? null, to ?? null],
    );
    if (row.first === null || row.last === null || BigInt(row.first) > BigInt(row.last)) return null;
    return { first: BigInt(row.first), last: BigInt(row.last) };
  }

  /** Seals with first <= seq <= last, ascending; missing seqs are simply absent. */
  async seals(first: bigint, last: bigint): Promise<StoredSeal[]> {
    const rows = await this.sql.query<SealRow>(
      `SELECT ${SEAL_COLUMNS} FROM audit_seal s WHERE s.seq >= $1::bigint AND s.seq <= $2::bigint ORDER BY s.seq`,
      [String(first), String(last)],
    );
    return rows.map((r) => ({
      ...r,
      version: Number(r.version),
      eventCount: Number(r.eventCount),
      gaps: JSON.parse(r.gaps) as Array<[string, string]>,
      locators: Buffer.from(r.locators, 'hex'),
    }));
  }

  /** Hash and last event id of seal `seq`, from the seal itself or, once purged, from its retention record. */
  async anchor(seq: bigint): Promise<{ hash: string; lastEventId: bigint } | null> {
    const rows = await this.sql.query<{ hash: string; last: string }>(
      `SELECT encode(hash, 'hex') AS hash, last_event_id::text AS last FROM audit_seal WHERE seq = $1::bigint
       UNION ALL
       SELECT encode(through_seal_hash, 'hex'), through_event_id::text FROM audit_retention WHERE through_seal_seq = $1::bigint
       LIMIT 1`,
      [String(seq)],
    );
    return rows.length === 0 ? null : { hash: rows[0].hash, lastEventId: BigInt(rows[0].last) };
  }

  async countEventsAfter(id: bigint): Promise<number> {
    const [row] = await this.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event WHERE id > $1::bigint', [String(id)]);
    return Number(row.n);
  }

  /** One call of the database's purge function; null when nothing has expired. */
  async purgeExpired(retentionDays: number, maxSeals: number, requestId: string): Promise<Record<string, unknown> | null> {
    const [row] = await this.sql.query<{ result: string | null }>('SELECT audit_purge_expired($1::int, $2::int, $3::varchar)::text AS result', [
      retentionDays,
      maxSeals,
      requestId,
    ]);
    return row.result === null ? null : (JSON.parse(row.result) as Record<string, unknown>);
  }
}
