import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { RecurringJob } from '../common/recurring-job';
import { AppConfig } from '../config/app-config';
import { DatabaseConnection } from '../database/database-connection';

interface Sighting {
  at: Date;
  ip: string | null;
  /** The JWT's `sv` claim; undefined: the token carried none (the stored version stays). */
  softwareVersion: string | undefined;
}

/**
 * One batched statement for all pending sightings. Rows only move forward (an instance flushing an
 * older sighting than another instance wrote is a no-op for that device), and a token without
 * `sv` keeps the version last reported.
 */
const FLUSH_SQL = `UPDATE device AS d
  SET last_seen_at = s.seen_at, last_ip = s.ip, software_version = COALESCE(s.sv, d.software_version)
  FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[]) AS s(id, seen_at, ip, sv)
  WHERE d.id = s.id AND (d.last_seen_at IS NULL OR d.last_seen_at < s.seen_at)`;

/**
 * Device liveness without a database write per request (issue 15 §2): each authenticated device
 * request only replaces its device's entry in an in-memory table (no I/O, nothing awaited), and
 * every DEVICE_LIVENESS_FLUSH_MS the pending entries are written in one UPDATE … FROM unnest, so a
 * device costs at most one row write per interval per instance, however often it calls. What is
 * pending is written at shutdown too, before the database closes (DatabaseConnection.onBeforeClose).
 * The table holds only devices seen since the last flush, so it is bounded by the fleet.
 */
@Injectable()
export class DeviceLiveness implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('DeviceLiveness');
  private pending = new Map<string, Sighting>();
  private readonly flushJob: RecurringJob;
  private flushing: Promise<void> | undefined;
  /** Statements and rows written by this instance (observable in tests). */
  readonly written = { statements: 0, rows: 0 };

  constructor(
    private readonly db: DatabaseConnection,
    config: AppConfig,
    scheduler: SchedulerRegistry,
  ) {
    this.flushJob = new RecurringJob(scheduler, {
      name: 'device-liveness.flush',
      everyMs: config.values.DEVICE_LIVENESS_FLUSH_MS,
      run: () => this.flush(),
      logger: this.logger,
      what: 'flushing device liveness',
    });
    db.onBeforeClose(() => this.flushAll());
  }

  onModuleInit(): void {
    this.flushJob.start();
  }

  /** An authenticated request of `deviceId`: remembered, written at the next flush. */
  seen(deviceId: string, ip: string | undefined, softwareVersion: string | undefined): void {
    const previous = this.pending.get(deviceId);
    this.pending.set(deviceId, { at: new Date(), ip: ip ?? null, softwareVersion: softwareVersion ?? previous?.softwareVersion });
  }

  /** Writes what is pending in one statement; single-flight. A failed write is kept for the next one. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Stops the interval and waits for its write in flight; what is pending is written at onBeforeClose. */
  async onModuleDestroy(): Promise<void> {
    await this.flushJob.stop();
  }

  /**
   * At shutdown: a write in flight holds only the sightings made before it started, so the ones
   * made since are written after it, not dropped with the closing connections.
   */
  private async flushAll(): Promise<void> {
    await this.flushing;
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const ids: string[] = [];
    const at: Date[] = [];
    const ips: Array<string | null> = [];
    const versions: Array<string | null> = [];
    for (const [id, s] of batch) {
      ids.push(id);
      at.push(s.at);
      ips.push(s.ip);
      versions.push(s.softwareVersion ?? null);
    }
    try {
      await this.db.sql.query(FLUSH_SQL, [ids, at, ips, versions], 'device_liveness_flush');
      this.written.statements++;
      this.written.rows += ids.length;
    } catch (err) {
      // Liveness is informational: keep the sightings (newer ones win) and try at the next interval.
      this.logger.warn(`device liveness not written (${ids.length} devices), retrying: ${(err as Error).message}`);
      for (const [id, s] of batch) {
        const newer = this.pending.get(id);
        if (!newer) this.pending.set(id, s);
        else if (newer.softwareVersion === undefined) newer.softwareVersion = s.softwareVersion;
      }
    }
  }
}
