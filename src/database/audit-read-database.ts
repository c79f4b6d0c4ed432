import { Logger } from '@nestjs/common';
import { Pool } from 'pg';
import { Gauge, type Registry } from 'prom-client';
import type { HotPathSql, PoolTimeouts } from './database-connection';

/** What readiness shows of the auditor reads' database: never a credential, only where and how far behind. */
export interface AuditReadState {
  /** host:port/database of the replica (no user, no password), or "primary" without one. */
  replica: string;
  /** The replica answered its last check. */
  reachable: boolean;
  /** Time since the last transaction the replica replayed, 0 when it has replayed all it received; null unknown. */
  replayLagMs: number | null;
  /** Where auditor reads go right now. */
  readsFrom: 'replica' | 'primary';
}

// Connection-level failures: the replica is gone or restarting, not a bad query.
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08006',
  '08001',
  '08003',
]);

function unreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code !== undefined && UNREACHABLE.has(e.code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|connection timeout/i.test(e.message ?? '');
}

/**
 * Where the auditor API reads the trail: AUDIT_READ_DATABASE_URL (a streaming read replica) when
 * set, else the primary. Issuance, sealing and retention never come here; they stay on the
 * primary's pool. A replica that cannot be reached is not an outage of the auditor API: each
 * read falls back to the primary (logged once per outage, shown by readiness), so issuance is
 * never affected and auditors still get answers.
 */
export class AuditReadDatabase {
  private readonly logger = new Logger('AuditReadDatabase');
  readonly sql: HotPathSql;
  readonly replica: string;
  private readonly pool: Pool | undefined;
  private down = false;
  private lastLagMs: number | null = null;
  /** broker_audit_replica_lag_seconds, read at each scrape. */
  readonly lagGauge: Gauge | undefined;

  constructor(
    private readonly primary: HotPathSql,
    options: { url?: string; poolMax: number; timeouts?: PoolTimeouts; registry?: Registry },
  ) {
    if (!options.url) {
      this.replica = 'primary';
      this.sql = primary;
      return;
    }
    const u = new URL(options.url);
    this.replica = `${u.hostname}:${u.port || '5432'}${u.pathname}`;
    const t = options.timeouts;
    this.pool = new Pool({
      connectionString: options.url,
      max: options.poolMax,
      connectionTimeoutMillis: t?.connectMs ?? 5_000,
      ...(t && { statement_timeout: t.statementMs, query_timeout: t.queryMs, keepAlive: true, keepAliveInitialDelayMillis: t.keepAliveDelayMs }),
    });
    this.pool.on('error', () => undefined);
    const pool = this.pool;
    this.sql = {
      query: async <T>(text: string, values: unknown[], name?: string) =>
        this.onReplica(
          async () => (await pool.query({ text, values, name })).rows as T[],
          () => primary.query<T>(text, values, name),
        ),
      queryArrays: async (text: string, values: unknown[]) =>
        this.onReplica(
          async () => (await pool.query({ text, values, rowMode: 'array' })).rows as unknown[][],
          () => primary.queryArrays(text, values),
        ),
    };
    if (options.registry) {
      const gauge: Gauge = new Gauge({
        name: 'broker_audit_replica_lag_seconds',
        help: 'Replay lag of the audit read replica (AUDIT_READ_DATABASE_URL) at its last check; -1 when unreachable',
        registers: [options.registry],
        collect: async () => {
          const state = await this.check().catch(() => ({ reachable: false, replayLagMs: null }));
          gauge.set(state.reachable && state.replayLagMs !== null ? state.replayLagMs / 1000 : -1);
        },
      });
      this.lagGauge = gauge;
    }
  }

  get configured(): boolean {
    return this.pool !== undefined;
  }

  /** The primary, for a read that must see what was just written (see AuditQueryService.lookupSession). */
  get primarySql(): HotPathSql {
    return this.primary;
  }

  /** The replica's state now: reachable, how far its replay is behind. */
  async check(): Promise<AuditReadState> {
    if (!this.pool) return { replica: 'primary', reachable: true, replayLagMs: 0, readsFrom: 'primary' };
    try {
      const { rows } = await this.pool.query<{ lag: string | null; standby: boolean }>(
        `SELECT pg_is_in_recovery() AS standby,
                CASE WHEN NOT pg_is_in_recovery() THEN 0
                     WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                     ELSE floor(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000) END::text AS lag`,
      );
      this.lastLagMs = rows[0].lag === null ? null : Number(rows[0].lag);
      this.markUp();
      return { replica: this.replica, reachable: true, replayLagMs: this.lastLagMs, readsFrom: 'replica' };
    } catch (err) {
      if (!unreachable(err)) throw err;
      this.markDown(err);
      return { replica: this.replica, reachable: false, replayLagMs: null, readsFrom: 'primary' };
    }
  }

  async close(): Promise<void> {
    await this.pool?.end().catch(() => undefined);
  }

  private async onReplica<T>(replica: () => Promise<T>, primary: () => Promise<T>): Promise<T> {
    try {
      const result = await replica();
      this.markUp();
      return result;
    } catch (err) {
      if (!unreachable(err)) throw err;
      this.markDown(err);
      return primary();
    }
  }

  private markDown(err: unknown): void {
    if (this.down) return;
    this.down = true;
    this.logger.warn(`audit read replica ${this.replica} unreachable (${(err as Error).message}); auditor reads go to the primary until it answers again`);
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.log(`audit read replica ${this.replica} answers again; auditor reads go back to it`);
  }
}
