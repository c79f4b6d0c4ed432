import { Injectable, Logger } from '@nestjs/common';
import { GroupCommit } from '../common/group-commit';
import { AuditUnavailableError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { DatabaseConnection } from '../database/database-connection';
import { BrokerMetrics } from '../metrics/broker-metrics';
import type { AuditEventInput } from './audit-event';

/** Column order of the batch INSERT below. */
type AuditRow = [
  occurredAt: Date,
  action: string,
  outcome: string,
  reason: string | null,
  actorType: string,
  actorId: string | null,
  terminalNumber: string | null,
  scope: string | null,
  requestId: string,
  clientIp: string | null,
  userAgent: string | null,
  gatewayResult: string | null,
  gatewayTranId: string | null,
  latencyMs: number | null,
  sessionFingerprint: string | null,
  details: string | null,
];
const COLUMNS = 16;
const FINAL_SESSION_ACTIONS = new Set(['session.issued', 'session.failed', 'session.denied']);

const INSERT = `INSERT INTO audit_event (occurred_at, action, outcome, reason, actor_type, actor_id, terminal_number, scope,
    request_id, client_ip, user_agent, gateway_result, gateway_tran_id, latency_ms, session_fingerprint, details)
  SELECT * FROM unnest($1::timestamptz[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[],
    $7::varchar[], $8::jsonb[], $9::varchar[], $10::varchar[], $11::varchar[], $12::varchar[], $13::varchar[], $14::int[],
    $15::char(64)[], $16::jsonb[])`;

/**
 * Append-only audit writer with group commit: the events of concurrent requests are written in
 * one INSERT (one transaction), and each caller waits until its own events are durable. A failed
 * flush fails every waiter with AuditUnavailableError (fail closed). Plain SQL rather than Prisma:
 * this runs on every request (see HotPathSql).
 */
@Injectable()
export class AuditTrail {
  private readonly logger = new Logger('AuditTrail');
  private readonly writer: GroupCommit<AuditRow, void>;

  constructor(
    private readonly db: DatabaseConnection,
    private readonly metrics: BrokerMetrics,
    config: AppConfig,
  ) {
    this.writer = new GroupCommit((rows) => this.insert(rows), config.values.AUDIT_BATCH_MAX);
    db.onBeforeClose(() => this.drain());
  }

  /** Resolves once the event is committed; rejects with AuditUnavailableError otherwise. */
  record(event: AuditEventInput): Promise<void> {
    const written = this.writer.submit(toRow(event));
    if (!FINAL_SESSION_ACTIONS.has(event.action)) return written;
    // Issuance metrics come from the trail itself, so the two can never disagree.
    return written.then(() => {
      this.metrics.issuances.inc({ outcome: event.outcome, terminal: event.terminalNumber ?? 'none', gateway_result: event.gatewayResult ?? 'none' });
    });
  }

  get flushes(): number {
    return this.writer.flushes;
  }

  /** Waits for every queued event to be written (graceful shutdown). */
  drain(): Promise<void> {
    return this.writer.drain();
  }

  private async insert(rows: AuditRow[]): Promise<void[]> {
    const columns: unknown[][] = Array.from({ length: COLUMNS }, () => new Array(rows.length));
    rows.forEach((row, r) => row.forEach((value, c) => (columns[c][r] = value)));
    const stopTimer = this.metrics.auditFlush.startTimer();
    this.metrics.auditBatchSize.observe(rows.length);
    try {
      await this.db.sql.query(INSERT, columns, 'audit_event_insert_batch');
      stopTimer({ result: 'ok' });
      return new Array<void>(rows.length);
    } catch (err) {
      stopTimer({ result: 'error' });
      this.logger.error(`audit flush of ${rows.length} events failed: ${(err as Error).message}`);
      throw new AuditUnavailableError({ cause: err });
    }
  }
}

const NUL = /\u0000/g;
function text(value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  const clean = value.includes('\u0000') ? value.replace(NUL, '') : value;
  return clean.length > max ? clean.slice(0, max) : clean;
}

function json(value: object | null | undefined): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value).replace(/\\u0000/g, '');
}

/** Clips every field to its column so that one odd request can never fail a whole batch. */
function toRow(e: AuditEventInput): AuditRow {
  return [
    e.occurredAt ?? new Date(),
    e.action.slice(0, 64),
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
