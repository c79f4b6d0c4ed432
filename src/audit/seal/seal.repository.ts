import { Inject, Injectable } from '@nestjs/common';
import { DatabaseConnection, type HotPathSql } from '../../database/database-connection';
import { EVENT_COLUMNS, type EventRow } from '../event-row';
import type { SealRecord } from './seal-check';
import type { SealAlg, SealPublicJwk } from './seal-keys';

/** A seal as stored: the header its hash covers, plus hash, key, signature and event locators. */
export type StoredSeal = SealRecord;

/** What activating a signing key found: whether it is the current key, or was replaced (and when). */
export interface KeyActivation {
  active: boolean;
  validTo: string | null;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

// Ordering must name s.seq: the output alias `seq` is text, and '10' sorts before '9'.
const SEAL_COLUMNS = `s.seq::text AS seq, s.version, s.first_event_id::text AS "firstEventId",
  s.last_event_id::text AS "lastEventId", s.event_count AS "eventCount", s.gaps::text AS gaps,
  to_char(s.min_occurred_at AT TIME ZONE 'UTC', ${ISO}) AS "minOccurredAt",
  to_char(s.max_occurred_at AT TIME ZONE 'UTC', ${ISO}) AS "maxOccurredAt",
  encode(s.events_digest, 'hex') AS "eventsDigest", encode(s.prev_hash, 'hex') AS "prevHash",
  to_char(s.sealed_at AT TIME ZONE 'UTC', ${ISO}) AS "sealedAt", encode(s.hash, 'hex') AS hash, s.key_id AS kid,
  s.alg, encode(s.signature, 'hex') AS signature, encode(s.event_locators, 'hex') AS locators`;

type SealRow = Omit<StoredSeal, 'locators' | 'gaps' | 'version' | 'eventCount' | 'signature'> & {
  locators: string;
  signature: string;
  gaps: string;
  version: number | string;
  eventCount: number | string;
};

/** Rows and counts verify checks the seals against (SealRepository.eventCensus). */
export interface EventCensus {
  /** The first event id of the first seal counted; null when there is none. */
  firstEventId: bigint | null;
  /** Rows whose id lies in the seals' id range. */
  rows: bigint;
  /** Events the seals count. */
  sealed: bigint;
  /** Events after the newest seal. */
  unsealed: number;
}

/** The SealRepository on the auditor reads' database (a read replica when AUDIT_READ_DATABASE_URL is set): verify and seal exports. */
export const AUDIT_READ_SEALS = Symbol('AUDIT_READ_SEALS');

/**
 * SQL for audit_seal and audit_retention, and the event reads sealing and verifying need. Plain
 * SQL on the broker's pool (HotPathSql): these paths read every event there is.
 */
@Injectable()
export class SealRepository {
  private readonly sql: HotPathSql;

  /** On the primary's pool (sealing, retention); AUDIT_READ_SEALS is the same over the auditor reads' database. */
  constructor(@Inject(DatabaseConnection) db: { readonly sql: HotPathSql }) {
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

  async head(): Promise<{ seq: bigint; lastEventId: bigint; hash: string; minOccurredAt: string } | null> {
    const rows = await this.sql.query<{ seq: string; last: string; hash: string; min: string }>(
      `SELECT s.seq::text AS seq, s.last_event_id::text AS last, encode(s.hash, 'hex') AS hash,
              to_char(s.min_occurred_at AT TIME ZONE 'UTC', ${ISO}) AS min
         FROM audit_seal s ORDER BY s.seq DESC LIMIT 1`,
      [],
    );
    return rows.length === 0 ? null : { seq: BigInt(rows[0].seq), lastEventId: BigInt(rows[0].last), hash: rows[0].hash, minOccurredAt: rows[0].min };
  }

  /**
   * Up to `limit` events with afterId < id <= upTo, in id order. With `since`, only those that
   * occurred at or after it: audit_event is partitioned by occurred_at, so an id range alone makes
   * Postgres probe every partition's index, while the time bound leaves out the older partitions.
   * The caller decides what a bounded read may have missed (AuditSealer).
   */
  eventsAfter(afterId: bigint, upTo: bigint, limit: number, since?: string): Promise<EventRow[]> {
    const ids = [String(afterId), String(upTo), limit];
    return (
      since === undefined
        ? this.sql.queryArrays(`SELECT ${EVENT_COLUMNS} FROM audit_event e WHERE e.id > $1::bigint AND e.id <= $2::bigint ORDER BY e.id LIMIT $3::int`, ids)
        : this.sql.queryArrays(
            `SELECT ${EVENT_COLUMNS} FROM audit_event e
              WHERE e.id > $1::bigint AND e.id <= $2::bigint AND e.occurred_at >= $4::timestamptz ORDER BY e.id LIMIT $3::int`,
            [...ids, since],
          )
    ) as Promise<EventRow[]>;
  }

  /**
   * Every event with first <= id <= last, in id order. With `span` (a seal's min and max
   * occurred_at), only those that occurred within it, so that only the partitions of that time are
   * read; an event of the range outside its seal's span is then absent, which verify reports.
   */
  eventsBetween(first: bigint, last: bigint, span?: { from: string; to: string }): Promise<EventRow[]> {
    const ids = [String(first), String(last)];
    return (
      span === undefined
        ? this.sql.queryArrays(`SELECT ${EVENT_COLUMNS} FROM audit_event e WHERE e.id >= $1::bigint AND e.id <= $2::bigint ORDER BY e.id`, ids)
        : this.sql.queryArrays(
            `SELECT ${EVENT_COLUMNS} FROM audit_event e
              WHERE e.id >= $1::bigint AND e.id <= $2::bigint AND e.occurred_at >= $3::timestamptz AND e.occurred_at <= $4::timestamptz ORDER BY e.id`,
            [...ids, span.from, span.to],
          )
    ) as Promise<EventRow[]>;
  }

  /**
   * Stores a seal unless another instance stored one with the same seq or an overlapping start
   * first (the unique indexes decide), or its key is no longer the current one (an instance still
   * holding a replaced key signs nothing more): returns whether this one was stored.
   */
  async insertSeal(s: StoredSeal): Promise<boolean> {
    const rows = await this.sql.query(
      `INSERT INTO audit_seal (seq, version, first_event_id, last_event_id, event_count, gaps, min_occurred_at,
           max_occurred_at, event_locators, events_digest, prev_hash, hash, key_id, signature, sealed_at, alg)
       SELECT $1::bigint, $2::smallint, $3::bigint, $4::bigint, $5::int, $6::jsonb, $7::timestamptz, $8::timestamptz,
           decode($9, 'hex'), decode($10, 'hex'), decode($11, 'hex'), decode($12, 'hex'), $13::varchar, decode($14, 'hex'), $15::timestamptz, $16::varchar
        WHERE EXISTS (SELECT 1 FROM audit_signing_key k WHERE k.kid = $13::varchar AND k.valid_to IS NULL)
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
        s.kid,
        s.signature.toString('hex'),
        s.sealedAt,
        s.alg,
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
    const rows = await this.sql.query<SealRow>(`SELECT ${SEAL_COLUMNS} FROM audit_seal s WHERE s.seq >= $1::bigint AND s.seq <= $2::bigint ORDER BY s.seq`, [
      String(first),
      String(last),
    ]);
    return rows.map(storedSeal);
  }

  /**
   * Publishes a signing key (if new) and retires every older key still current: the newest
   * registered key is the one to sign with. Idempotent, so an instance calls it whenever it starts
   * using a key; a key once replaced is never current again. `at` becomes a new key's validFrom
   * and the validTo of those it replaces.
   */
  async activateKey(key: { kid: string; alg: SealAlg; publicJwk: Record<string, string> }, at: string): Promise<KeyActivation> {
    await this.sql.query(
      `INSERT INTO audit_signing_key (kid, alg, public_jwk, valid_from) VALUES ($1, $2, $3::jsonb, $4::timestamptz) ON CONFLICT (kid) DO NOTHING`,
      [key.kid, key.alg, JSON.stringify(key.publicJwk), at],
    );
    await this.sql.query(
      `UPDATE audit_signing_key o SET valid_to = n.valid_from
         FROM audit_signing_key n
        WHERE n.kid = $1 AND n.valid_to IS NULL AND o.valid_to IS NULL AND o.kid <> n.kid AND o.valid_from <= n.valid_from`,
      [key.kid],
    );
    const [row] = await this.sql.query<{ validTo: string | null }>(
      `SELECT to_char(valid_to AT TIME ZONE 'UTC', ${ISO}) AS "validTo" FROM audit_signing_key WHERE kid = $1`,
      [key.kid],
    );
    return { active: row.validTo === null, validTo: row.validTo };
  }

  /** Every public key ever used to sign seals, oldest first, as published JWKs. */
  async signingKeys(): Promise<SealPublicJwk[]> {
    const rows = await this.sql.query<{ kid: string; alg: SealAlg; jwk: string; validFrom: string; validTo: string | null }>(
      `SELECT kid, alg, public_jwk::text AS jwk, to_char(valid_from AT TIME ZONE 'UTC', ${ISO}) AS "validFrom",
              to_char(valid_to AT TIME ZONE 'UTC', ${ISO}) AS "validTo"
         FROM audit_signing_key ORDER BY valid_from, kid`,
      [],
    );
    return rows.map((r) => ({
      ...(JSON.parse(r.jwk) as Pick<SealPublicJwk, 'kty' | 'crv' | 'x' | 'y'>),
      kid: r.kid,
      alg: r.alg,
      use: 'sig',
      validFrom: r.validFrom,
      validTo: r.validTo,
    }));
  }

  /** Hash and last event id of seal `seq`, from the seal itself or, once purged, from its retention record. */
  async anchor(seq: bigint): Promise<{ hash: string; lastEventId: bigint; version: number | null } | null> {
    const rows = await this.sql.query<{ hash: string; last: string; version: number | null }>(
      `SELECT encode(hash, 'hex') AS hash, last_event_id::text AS last, version::int AS version FROM audit_seal WHERE seq = $1::bigint
       UNION ALL
       SELECT encode(through_seal_hash, 'hex'), through_event_id::text, NULL FROM audit_retention WHERE through_seal_seq = $1::bigint
       LIMIT 1`,
      [String(seq)],
    );
    return rows.length === 0
      ? null
      : { hash: rows[0].hash, lastEventId: BigInt(rows[0].last), version: rows[0].version === null ? null : Number(rows[0].version) };
  }

  /**
   * What verify compares with the seals, in one statement (one snapshot): the rows, in every
   * partition, whose id lies in the id range of seals `seals.first`..`seals.last` (an index-only
   * count on the key); the events those seals count; and the events with an id above `after` (the
   * newest seal's last event, or 0 before the first seal). audit_event's key is (id, occurred_at),
   * so a row written with a sealed event's id and another time is a second row under that id: it
   * makes `rows` exceed `sealed`, whatever partition it is in.
   */
  async eventCensus(seals: { first: bigint; last: bigint } | null, after: bigint): Promise<EventCensus> {
    const [row] = await this.sql.query<{ first: string | null; rows: string; sealed: string; unsealed: string }>(
      `SELECT r.first::text AS first,
              (SELECT count(*) FROM audit_event e WHERE e.id >= r.first AND e.id <= r.last)::text AS rows,
              (SELECT coalesce(sum(s.event_count), 0) FROM audit_seal s WHERE s.seq >= $1::bigint AND s.seq <= $2::bigint)::text AS sealed,
              (SELECT count(*) FROM audit_event e WHERE e.id > $3::bigint)::text AS unsealed
         FROM (SELECT (SELECT first_event_id FROM audit_seal WHERE seq = $1::bigint) AS first,
                      (SELECT last_event_id FROM audit_seal WHERE seq = $2::bigint) AS last) r`,
      [seals === null ? null : String(seals.first), seals === null ? null : String(seals.last), String(after)],
    );
    return { firstEventId: row.first === null ? null : BigInt(row.first), rows: BigInt(row.rows), sealed: BigInt(row.sealed), unsealed: Number(row.unsealed) };
  }

  /** The lowest id that more than one row carries, with first <= id <= last (every partition); null when none does. */
  async firstDuplicateId(first: bigint, last: bigint): Promise<bigint | null> {
    const rows = await this.sql.query<{ id: string }>(
      `SELECT e.id::text AS id FROM audit_event e WHERE e.id >= $1::bigint AND e.id <= $2::bigint GROUP BY e.id HAVING count(*) > 1 ORDER BY e.id LIMIT 1`,
      [String(first), String(last)],
    );
    return rows.length === 0 ? null : BigInt(rows[0].id);
  }

  /** The seal whose id range holds event `id`, if one does. */
  async sealCovering(id: bigint): Promise<StoredSeal | undefined> {
    const [row] = await this.sql.query<SealRow>(
      `SELECT ${SEAL_COLUMNS} FROM audit_seal s WHERE s.first_event_id <= $1::bigint ORDER BY s.first_event_id DESC LIMIT 1`,
      [String(id)],
    );
    return row && BigInt(row.lastEventId) >= id ? storedSeal(row) : undefined;
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

function storedSeal(r: SealRow): StoredSeal {
  return {
    ...r,
    version: Number(r.version),
    eventCount: Number(r.eventCount),
    gaps: JSON.parse(r.gaps) as Array<[string, string]>,
    signature: Buffer.from(r.signature, 'hex'),
    locators: Buffer.from(r.locators, 'hex'),
  };
}
