import { createHash } from 'node:crypto';
import { ValidationError } from '../../common/errors';
import { canonicalJson } from '../../common/canonical-json';
import type { AuditFilters } from './audit-query.schema';

/** Where a newest-first page ended: the (occurred_at, id) of its last event. */
export interface CursorPosition {
  occurredAt: string;
  id: string;
}

const FORMAT = /^1\.(-?\d{1,15})\.(\d{1,19})\.([A-Za-z0-9_-]{12})$/;
const MAX_ID = 9_223_372_036_854_775_807n;

/**
 * Opaque to clients: base64url of the position and a short hash of the filters, so a cursor
 * cannot silently be replayed against a different query.
 */
export function encodeCursor(position: CursorPosition, filters: AuditFilters): string {
  const ms = Date.parse(position.occurredAt);
  return Buffer.from(`1.${ms}.${position.id}.${filterKey(filters)}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, filters: AuditFilters): CursorPosition {
  const bad = (why: string) => new ValidationError(`The cursor is not valid: ${why}.`, [{ path: 'cursor', message: why }]);
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad('not a cursor this API issued');
  const match = FORMAT.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw bad('not a cursor this API issued');
  const [, ms, id, key] = match;
  const at = new Date(Number(ms));
  if (Number.isNaN(at.getTime()) || BigInt(id) > MAX_ID) throw bad('not a cursor this API issued');
  if (key !== filterKey(filters)) throw bad('it belongs to a query with other filters');
  return { occurredAt: at.toISOString(), id };
}

function filterKey(filters: AuditFilters): string {
  return createHash('sha256').update(canonicalJson(filters)).digest('base64url').slice(0, 12);
}
