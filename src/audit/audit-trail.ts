import { Injectable, Logger } from '@nestjs/common';
import { GroupCommit } from '../common/group-commit';
import { AuditUnavailableError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { DatabaseConnection } from '../database/database-connection';
import { BrokerMetrics } from '../metrics/broker-metrics';
import type { AuditEventInput } from './audit-event';
import { AUDIT_COLUMNS, INSERT_AUDIT_BATCH, toAuditRow, type AuditRow } from './audit-row';

const FINAL_SESSION_ACTIONS = new Set(['session.issued', 'session.failed', 'session.denied']);

/**
 * Append-only audit writer with group commit: the events of concurrent requests are written in
 * one INSERT (one transaction), and each caller waits until its own events are durable. A flush
 * that fails because the database is unavailable fails every waiter with AuditUnavailableError
 * (fail closed); one that fails on a row the database refuses is retried row by row, so that only
 * that row's caller fails (GroupCommit). Plain SQL rather than Prisma: this runs on every request
 * (see HotPathSql). Admin changes write their event inside their own transaction instead
 * (AuditInTransaction), with the same row (audit-row.ts).
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
    const written = this.writer.submit(toAuditRow(event));
    if (!FINAL_SESSION_ACTIONS.has(event.action)) return written;
    // Issuance metrics come from the trail itself, so the two can never disagree.
    return written.then(() => {
      this.metrics.issuances.inc({
        outcome: event.outcome,
        terminal: this.metrics.terminalLabel(event.terminalNumber),
        gateway_result: event.gatewayResult ?? 'none',
      });
    });
  }

  /** Waits for every queued event to be written (graceful shutdown). */
  drain(): Promise<void> {
    return this.writer.drain();
  }

  private async insert(rows: AuditRow[]): Promise<void[]> {
    const columns: unknown[][] = Array.from({ length: AUDIT_COLUMNS }, () => new Array<unknown>(rows.length));
    rows.forEach((row, r) => row.forEach((value, c) => (columns[c][r] = value)));
    const stopTimer = this.metrics.auditFlush.startTimer();
    this.metrics.auditBatchSize.observe(rows.length);
    try {
      await this.db.sql.query(INSERT_AUDIT_BATCH, columns, 'audit_event_insert_batch');
      stopTimer({ result: 'ok' });
      return new Array<void>(rows.length);
    } catch (err) {
      stopTimer({ result: 'error' });
      this.logger.error(`audit flush of ${rows.length} events failed: ${(err as Error).message}`);
      throw new AuditUnavailableError({ cause: err });
    }
  }
}
