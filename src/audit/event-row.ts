import { AUDIT_COLUMNS_DEF, type AuditEventView, type AuditFieldNames, type ValuesOf } from './audit-row';

export type { AuditEventView } from './audit-row';

/**
 * One stored audit event as Postgres sends it: every column cast to text, in the order of
 * EVENT_COLUMNS. Bulk paths (export, sealing, verify) read millions of these; keeping them as
 * the driver's plain string arrays, with no per-value decoding, is what lets them keep up with
 * their throughput targets. Ids stay strings: they are BIGINTs.
 */
export type EventRow = Array<string | null>;

/**
 * The columns of alias `e` (an audit_event row), all as text, timestamps as toISOString() writes
 * them; from the one definition in audit-row.ts.
 */
export const EVENT_COLUMNS = AUDIT_COLUMNS_DEF.map(([, column, cast]) =>
  column === 'occurred_at'
    ? `to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : cast === 'varchar' || cast === 'char(64)'
      ? `e.${column}`
      : `e.${column}::text`,
).join(', ');

/** Field names, in column order (CSV header, NDJSON and API keys). */
export const EVENT_FIELDS = AUDIT_COLUMNS_DEF.map(([field]) => field) as AuditFieldNames;

const SCOPE = 8;
const LATENCY = 14;
const DETAILS = 16;

/**
 * The event as values: JSON columns parsed, latency a number. What a seal hashes (canonically)
 * and what the API shows.
 */
export type EventTuple = ValuesOf<AuditFieldNames, AuditEventView>;

export function toTuple(row: EventRow): EventTuple {
  const t = row.slice() as unknown[];
  t[SCOPE] = row[SCOPE] === null ? null : JSON.parse(row[SCOPE]);
  t[LATENCY] = row[LATENCY] === null ? null : Number(row[LATENCY]);
  t[DETAILS] = row[DETAILS] === null ? null : JSON.parse(row[DETAILS]);
  return t as EventTuple;
}

/**
 * The tuple of an event as the NDJSON export wrote it (ndjsonLine, parsed): the inverse of
 * toView, so an exported event hashes (seal-format.ts eventHash) exactly as its stored row does.
 * Throws naming the first field that is missing or of the wrong type.
 */
export function tupleOfView(view: Record<string, unknown>): EventTuple {
  const t = new Array<unknown>(EVENT_FIELDS.length);
  for (let i = 0; i < EVENT_FIELDS.length; i++) {
    const name = EVENT_FIELDS[i];
    if (!(name in view)) throw new Error(`field "${name}" is missing`);
    const v = view[name];
    if (i === SCOPE || i === DETAILS) t[i] = v;
    else if (i === LATENCY) {
      if (v !== null && typeof v !== 'number') throw new Error(`field "${name}" must be a number or null`);
      t[i] = v;
    } else {
      if (v !== null && typeof v !== 'string') throw new Error(`field "${name}" must be a string or null`);
      t[i] = v;
    }
  }
  if (typeof t[0] !== 'string' || !/^[1-9]\d{0,18}$/.test(t[0])) throw new Error('field "id" must be a positive decimal id');
  return t as EventTuple;
}

export function toView(row: EventRow): AuditEventView {
  const view: Record<string, unknown> = {};
  const t = toTuple(row);
  for (let i = 0; i < EVENT_FIELDS.length; i++) view[EVENT_FIELDS[i]] = t[i];
  return view as unknown as AuditEventView;
}

const KEYS = EVENT_FIELDS.map((f) => JSON.stringify(f) + ':');
/** What JSON.stringify would escape in text from Postgres (which holds no lone surrogates). */
// eslint-disable-next-line no-control-regex -- the control characters JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/**
 * The event as one JSON line, the same object as toView gives, without parsing the JSON columns:
 * Postgres already wrote them as JSON, and latency as a JSON number.
 */
export function ndjsonLine(row: EventRow): string {
  const members = new Array<string>(KEYS.length);
  for (let i = 0; i < KEYS.length; i++) {
    const v = row[i];
    let value: string;
    if (v === null) value = 'null';
    else if (i === SCOPE || i === DETAILS || i === LATENCY) value = v;
    else value = NEEDS_ESCAPE.test(v) ? JSON.stringify(v) : `"${v}"`;
    members[i] = KEYS[i] + value;
  }
  return `{${members.join(',')}}\n`;
}

/** Where a newest-first page ended: the (occurred_at, id) of an event. */
export function positionOf(row: EventRow): { occurredAt: string; id: string } {
  return { occurredAt: row[1] as string, id: row[0] as string };
}
