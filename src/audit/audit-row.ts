import type { AuditEventInput } from './audit-event';

/**
 * The one definition of an audit_event row. Every other shape of it is derived from these two
 * declarations: the row as the service writes it (AuditRow, INSERT_AUDIT_*), the row as read back
 * (EventRow, EVENT_COLUMNS, EventTuple, AuditEventView, in event-row.ts) and the caller's input
 * (AuditEventInput, checked against these fields below). Adding a column means adding it here and
 * to the migration; the compiler then names every place that must follow.
 */
export interface AuditEventView {
  id: string;
  occurredAt: string;
  action: string;
  outcome: string;
  reason: string | null;
  actorType: string;
  actorId: string | null;
  terminalNumber: string | null;
  scope: unknown;
  requestId: string;
  clientIp: string | null;
  userAgent: string | null;
  gatewayResult: string | null;
  gatewayTranId: string | null;
  latencyMs: number | null;
  sessionFingerprint: string | null;
  details: unknown;
}

/** The columns in table order: field name (API, CSV header, NDJSON), column, and the SQL type a value is cast to. */
export const AUDIT_COLUMNS_DEF = [
  ['id', 'id', 'bigint'],
  ['occurredAt', 'occurred_at', 'timestamptz'],
  ['action', 'action', 'varchar'],
  ['outcome', 'outcome', 'varchar'],
  ['reason', 'reason', 'varchar'],
  ['actorType', 'actor_type', 'varchar'],
  ['actorId', 'actor_id', 'varchar'],
  ['terminalNumber', 'terminal_number', 'varchar'],
  ['scope', 'scope', 'jsonb'],
  ['requestId', 'request_id', 'varchar'],
  ['clientIp', 'client_ip', 'varchar'],
  ['userAgent', 'user_agent', 'varchar'],
  ['gatewayResult', 'gateway_result', 'varchar'],
  ['gatewayTranId', 'gateway_tran_id', 'varchar'],
  ['latencyMs', 'latency_ms', 'int'],
  ['sessionFingerprint', 'session_fingerprint', 'char(64)'],
  ['details', 'details', 'jsonb'],
] as const satisfies ReadonlyArray<readonly [keyof AuditEventView, string, string]>;

type Def = typeof AUDIT_COLUMNS_DEF;
type FieldsOf<D> = { -readonly [K in keyof D]: D[K] extends readonly [infer F, string, string] ? F : never };
/** Field names in column order, as a tuple type. */
export type AuditFieldNames = FieldsOf<Def>;
type Rest<T> = T extends readonly [unknown, ...infer R] ? R : never;
/** A tuple of `T`'s values in the order of `Names`. */
export type ValuesOf<Names, T> = { -readonly [K in keyof Names]: Names[K] extends keyof T ? T[Names[K]] : never };

/** A row as written: every column but the generated id; JSON columns serialised, time a Date. */
interface WrittenValues extends Omit<AuditEventView, 'id' | 'occurredAt' | 'scope' | 'details'> {
  occurredAt: Date;
  scope: string | null;
  details: string | null;
}

/**
 * The row as the service writes it, shared by the group-commit writer (AuditTrail) and the
 * transactional insert (AuditInTransaction): both clean and clip exactly alike, so an event reads
 * the same whichever path wrote it.
 */
export type AuditRow = ValuesOf<Rest<AuditFieldNames>, WrittenValues>;
const WRITTEN = AUDIT_COLUMNS_DEF.slice(1);
export const AUDIT_COLUMNS = WRITTEN.length;

// The caller's input names exactly the written fields (no more, no fewer): checked at compile time.
type WrittenField = keyof WrittenValues;
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const inputNamesEveryColumn: Exact<keyof AuditEventInput, WrittenField> = true;
void inputNamesEveryColumn;

const COLUMN_LIST = WRITTEN.map(([, column]) => column).join(', ');
const CASTS = WRITTEN.map(([, , cast]) => cast);

/** Many rows in one statement: one array parameter per column. */
export const INSERT_AUDIT_BATCH = `INSERT INTO audit_event (${COLUMN_LIST})
  SELECT * FROM unnest(${CASTS.map((c, i) => `$${i + 1}::${c}[]`).join(', ')})`;

/** One row, one parameter per column (inside an admin change's transaction). */
export const INSERT_AUDIT_ROW = `INSERT INTO audit_event (${COLUMN_LIST})
  VALUES (${CASTS.map((c, i) => `$${i + 1}::${c}`).join(', ')})`;

/** Clips every field to its column and cleans every string, so that no input can make the row invalid. */
export function toAuditRow(e: AuditEventInput): AuditRow {
  return [
    e.occurredAt ?? new Date(),
    cleanText(e.action).slice(0, 64),
    e.outcome,
    text(e.reason, 200),
    e.actorType,
    text(e.actorId, 128),
    text(e.terminalNumber, 10),
    json(e.scope),
    text(e.requestId, 64) ?? '',
    text(e.clientIp, 64),
    text(e.userAgent, 512),
    text(e.gatewayResult, 16),
    text(e.gatewayTranId, 64),
    e.latencyMs === undefined ? null : Math.min(Math.round(e.latencyMs), 2_147_483_647),
    e.sessionFingerprint ?? null,
    json(e.details),
  ];
}

// Postgres text cannot hold NUL (22021) and jsonb refuses a lone surrogate escape (22P02); neither
// carries meaning in an audit record, so both are dropped. A well-formed surrogate pair is kept.
// eslint-disable-next-line no-control-regex -- NUL is exactly what must be matched
const UNWRITABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// eslint-disable-next-line no-control-regex -- as above
const UNWRITABLE_TEST = /\u0000|[\uD800-\uDFFF]/;

/** `value` without NUL characters and lone UTF-16 surrogates. */
export function cleanText(value: string): string {
  return UNWRITABLE_TEST.test(value) ? value.replace(UNWRITABLE, '') : value;
}

function text(value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  const clean = cleanText(value);
  if (clean.length <= max) return clean;
  // Never cut a surrogate pair in half.
  const cut = clean.slice(0, max);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * Serialised after cleaning the values themselves: every string, object key included, at any
 * depth. (Editing the serialised text instead, as was done once, can turn an escaped backslash
 * followed by `u0000` into invalid JSON.)
 */
function json(value: object | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  // The usual case costs one JSON.stringify: NUL and lone surrogates come out of it as \u
  // escapes (well-formed pairs stay raw), so text without such an escape has nothing to clean.
  const serialised = JSON.stringify(value);
  return MAYBE_UNWRITABLE_ESCAPE.test(serialised) ? JSON.stringify(cleanJson(value)) : serialised;
}

/** `\u0000` or `\ud800`-`\udfff` in JSON text (an escaped backslash before `u0000` also matches: then the slow path decides). */
const MAYBE_UNWRITABLE_ESCAPE = /\\u(?:0000|[dD][89abcdefABCDEF])/;

/** A copy of `value` as JSON.stringify would see it, with every string cleaned. */
export function cleanJson(value: unknown): unknown {
  if (typeof value === 'string') return cleanText(value);
  if (value === null || typeof value !== 'object') return value;
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === 'function') return cleanJson(withToJson.toJSON());
  if (Array.isArray(value)) return value.map(cleanJson);
  // No prototype: a "__proto__" key stays a key.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) out[cleanText(k)] = cleanJson(v);
  return out;
}
