import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { RecurringJob } from '../common/recurring-job';
import { AppConfig } from '../config/app-config';
import { DatabaseConnection } from '../database/database-connection';

export interface PartitionRound {
  /** Partitions this round created (audit_event_YYYYMMDD, the first day of their period). */
  created: string[];
  /** Events moved out of the DEFAULT partition into a partition created for their period. */
  moved: number;
}

/**
 * Keeps audit_event's partitions created AUDIT_PARTITIONS_AHEAD periods ahead, on start and every
 * AUDIT_PARTITION_INTERVAL_MS, through the database's audit_event_prepare_partitions() (migration
 * 20261130800000): it is idempotent and takes a transaction-level advisory lock, so any number of
 * instances may run it at once. An event whose period has no partition yet is never lost: it waits
 * in the DEFAULT partition and is moved into its partition when this creates it. (pg_partman can
 * do the same where it is installed; see docs/audit.md.)
 */
@Injectable()
export class AuditPartitions implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('AuditPartitions');
  private readonly job: RecurringJob;

  constructor(
    private readonly db: DatabaseConnection,
    private readonly config: AppConfig,
    scheduler: SchedulerRegistry,
  ) {
    this.job = new RecurringJob(scheduler, {
      name: 'audit-partitions.prepare',
      everyMs: config.values.AUDIT_PARTITION_INTERVAL_MS,
      run: () => this.prepare(),
      logger: this.logger,
      // The DEFAULT partition takes the events meanwhile; the next round retries.
      what: 'preparing audit partitions',
    });
  }

  onApplicationBootstrap(): void {
    if (this.config.values.AUDIT_PARTITION_INTERVAL_MS > 0) this.job.start({ runNow: true });
  }

  async onModuleDestroy(): Promise<void> {
    await this.job.stop();
  }

  /** One round; `since` also creates the periods from that time on (used to prepare for back-filled history). */
  async prepare(since?: Date): Promise<PartitionRound> {
    const { AUDIT_PARTITION_PERIOD: period, AUDIT_PARTITIONS_AHEAD: ahead } = this.config.values;
    const [row] = await this.db.sql.query<{ result: PartitionRound }>('SELECT audit_event_prepare_partitions($1::text, $2::int, $3::timestamptz) AS result', [
      period,
      ahead,
      since?.toISOString() ?? null,
    ]);
    const round = row.result;
    if (round.created.length > 0 || round.moved > 0) {
      this.logger.log(`created audit partitions ${round.created.join(', ') || '(none)'}; moved ${round.moved} events out of the DEFAULT partition`);
    }
    return round;
  }
}
