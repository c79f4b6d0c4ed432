import { Inject, Injectable } from '@nestjs/common';
import { AuditReadDatabase } from '../../database/audit-read-database';
import type { HotPathSql } from '../../database/database-connection';
import { EVENT_COLUMNS, type EventRow } from '../event-row';
import type { CursorPosition } from './audit-cursor';
import type { AuditFilters } from './audit-query.schema';

export interface StatsRow {
  start: string;
  terminalNumber?: string | null;
  outcome: string;
  gatewayResult: string | null;
  count: number;
}

/**
 * Reads of audit_event for the auditor API: newest-first keyset pages over (occurred_at, id),
 * which the migration's indexes serve as backward index scans. Plain SQL (HotPathSql): exports
 * read millions of rows, and rows come back as the driver's string arrays. On the auditor reads'
 * database: the read replica of AUDIT_READ_DATABASE_URL when set, else the primary's pool.
 */
@Injectable()
export class AuditEventRepository {
  private readonly sql: HotPathSql;

  constructor(@Inject(AuditReadDatabase) private readonly read: AuditReadDatabase) {
    this.sql = read.sql;
  }

  /** Up to `limit` events matching `filters` strictly after `after`, newest first. */
  page(filters: AuditFilters, after: CursorPosition | undefined, limit: number): Promise<EventRow[]> {
    const w = where(filters, after);
    return this.sql.queryArrays(
      `SELECT ${EVENT_COLUMNS} FROM audit_event e ${w.sql} ORDER BY e.occurred_at DESC, e.id DESC LIMIT $${w.values.length + 1}::int`,
      [...w.values, limit],
    ) as Promise<EventRow[]>;
  }

  /** Event counts per bucket (UTC hour or day), outcome and gateway result, optionally per terminal. */
  async stats(filters: AuditFilters, bucket: 'hour' | 'day', perTerminal: boolean): Promise<StatsRow[]> {
    const w = where(filters, undefined);
    const terminal = perTerminal ? 'e.terminal_number AS "terminalNumber",' : '';
    const terminalGroup = perTerminal ? ', e.terminal_number' : '';
    const rows = await this.sql.query<StatsRow>(
      `SELECT to_char(date_trunc('${bucket === 'day' ? 'day' : 'hour'}', e.occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS start,
              ${terminal} e.outcome, e.gateway_result AS "gatewayResult", count(*)::int AS count
         FROM audit_event e ${w.sql}
        GROUP BY 1 ${terminalGroup}, e.outcome, e.gateway_result
        ORDER BY 1 ${terminalGroup}, e.outcome, e.gateway_result NULLS FIRST`,
      w.values,
    );
    return rows.map((r) => ({ ...r, count: Number(r.count) }));
  }

  /** Whether reads go to a replica (that may not have replayed the newest events yet). */
  get fromReplica(): boolean {
    return this.read.configured;
  }

  /** Events carrying this session fingerprint (the issuance, normally exactly one), oldest first. */
  byFingerprint(fingerprint: string, onPrimary = false): Promise<EventRow[]> {
    return (onPrimary ? this.read.primarySql : this.sql).queryArrays(
      `SELECT ${EVENT_COLUMNS} FROM audit_event e WHERE e.session_fingerprint = $1 ORDER BY e.id`,
      [fingerprint],
    ) as Promise<EventRow[]>;
  }

  /** Every event of these requests, oldest first. */
  byRequestIds(requestIds: string[], onPrimary = false): Promise<EventRow[]> {
    return (onPrimary ? this.read.primarySql : this.sql).queryArrays(
      `SELECT ${EVENT_COLUMNS} FROM audit_event e WHERE e.request_id = ANY($1::varchar[]) ORDER BY e.id`,
      [requestIds],
    ) as Promise<EventRow[]>;
  }
}

/** The WHERE clause of the filters, every value a bind parameter. */
function where(f: AuditFilters, after: CursorPosition | undefined): { sql: string; values: unknown[] } {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const add = (condition: (p: string) => string, value: unknown) => {
    values.push(value);
    conditions.push(condition(`$${values.length}`));
  };
  if (f.from !== undefined) add((p) => `e.occurred_at >= ${p}::timestamptz`, f.from);
  if (f.to !== undefined) add((p) => `e.occurred_at < ${p}::timestamptz`, f.to);
  if (f.deviceId !== undefined) add((p) => `e.actor_id = ${p}`, f.deviceId);
  if (f.terminalNumber !== undefined) add((p) => `e.terminal_number = ${p}`, f.terminalNumber);
  if (f.action !== undefined) add((p) => `e.action = ${p}`, f.action);
  if (f.outcome !== undefined) add((p) => `e.outcome = ${p}`, f.outcome);
  if (f.gatewayResult !== undefined) add((p) => `e.gateway_result = ${p}`, f.gatewayResult);
  if (f.requestId !== undefined) add((p) => `e.request_id = ${p}`, f.requestId);
  if (after !== undefined) {
    values.push(after.occurredAt, after.id);
    // A row comparison: btree indexes ending in (occurred_at, id) take it as one range condition.
    conditions.push(`(e.occurred_at, e.id) < ($${values.length - 1}::timestamptz, $${values.length}::bigint)`);
  }
  return { sql: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, values };
}
