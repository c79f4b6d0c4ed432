import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client, Pool } from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import * as lockfile from 'proper-lockfile';
import type { PrismaClient } from '../generated/prisma/client';

/** The driver adapter PrismaClient takes. */
export type PrismaAdapter = NonNullable<NonNullable<ConstructorParameters<typeof PrismaClient>[0]>['adapter']>;

/**
 * Bounds on every pooled Postgres call, so a silent network drop (no reset, no FIN) fails a query
 * in seconds instead of leaving it, its connection and its request hanging for the OS's 30-45 s
 * or more. Without them (CLI, benchmarks) calls wait as long as they take.
 */
export interface PoolTimeouts {
  connectMs: number;
  /** Server side (statement_timeout): the server cancels a statement that runs longer. */
  statementMs: number;
  /** Client side (query_timeout): gives up on an answer that never comes; the connection is then discarded. */
  queryMs: number;
  /** TCP keepalive, first probe after this much idle time: finds dead peers among idle connections. */
  keepAliveDelayMs: number;
}

/** Runs a multi-statement SQL script atomically; used by the migration runner. */
export interface ScriptRunner {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs `sql` inside one transaction. */
  runScript(sql: string): Promise<void>;
  /** Serialises migrators across processes. */
  withMigrationLock<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Plain parameterised SQL on the same connections Prisma uses. Only for the per-request writes
 * of the issuance path (audit batches, jti claims), where Prisma's own per-call CPU cost
 * (measured: ~1.6 ms for a small createMany, ~0.4 ms for a raw statement) would dominate.
 */
export interface HotPathSql {
  /** `name` makes it a prepared statement on each pooled connection (parsed and planned once). */
  query<T = Record<string, unknown>>(text: string, values: unknown[], name?: string): Promise<T[]>;
  /**
   * Rows as arrays of column values: for the audit trail's bulk reads (export, sealing, verify),
   * which read millions of rows with every column cast to text. Measured on 5,000-row batches:
   * 3.4 µs of CPU per row as the driver's arrays, 5.5 µs through Prisma's $queryRaw.
   */
  queryArrays(text: string, values: unknown[]): Promise<unknown[][]>;
}

/**
 * The physical database: a Postgres server (DATABASE_URL) or the embedded PGlite under
 * PGLITE_DATA_DIR. PGlite is single-connection and has no cross-process locking, so a lock file
 * keeps a second process off the same data directory.
 */
export abstract class DatabaseConnection {
  abstract readonly kind: 'postgres' | 'pglite';
  abstract prismaAdapter(): PrismaAdapter;
  abstract readonly sql: HotPathSql;
  abstract openScriptRunner(): Promise<ScriptRunner>;
  protected abstract closeConnections(): Promise<void>;
  private readonly beforeClose: Array<() => Promise<void>> = [];

  /** Writers register their flush here so nothing queued is lost when the connections close. */
  onBeforeClose(flush: () => Promise<void>): void {
    this.beforeClose.push(flush);
  }

  async close(): Promise<void> {
    for (const flush of this.beforeClose) await flush().catch(() => undefined);
    await this.closeConnections();
  }

  static async open(options: { databaseUrl?: string; poolMax: number; pgliteDataDir: string; timeouts?: PoolTimeouts }): Promise<DatabaseConnection> {
    if (options.databaseUrl) return new PostgresConnection(options.databaseUrl, options.poolMax, options.timeouts);
    return PgliteConnection.openDir(options.pgliteDataDir);
  }
}

const MIGRATION_LOCK_KEY = 7_271_904_111;

class PostgresConnection extends DatabaseConnection {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;
  readonly sql: HotPathSql;

  constructor(
    private readonly url: string,
    poolMax: number,
    timeouts?: PoolTimeouts,
  ) {
    super();
    // Prisma's adapter shares this pool, so its queries get the same bounds. (Migrations open their
    // own client, without them: a long migration must not be cut off.)
    this.pool = new Pool({
      connectionString: url,
      max: poolMax,
      connectionTimeoutMillis: timeouts?.connectMs ?? 5_000,
      ...(timeouts && {
        statement_timeout: timeouts.statementMs,
        query_timeout: timeouts.queryMs,
        keepAlive: true,
        keepAliveInitialDelayMillis: timeouts.keepAliveDelayMs,
      }),
    });
    // An idle client that errors (server restart) must not crash the process; the pool replaces it.
    this.pool.on('error', () => undefined);
    this.sql = {
      query: async <T>(text: string, values: unknown[], name?: string) => (await this.pool.query({ text, values, name })).rows as T[],
      queryArrays: async (text: string, values: unknown[]) => (await this.pool.query({ text, values, rowMode: 'array' })).rows as unknown[][],
    };
  }

  prismaAdapter(): PrismaAdapter {
    return new PrismaPg(this.pool);
  }

  async openScriptRunner(): Promise<ScriptRunner> {
    const client = new Client({ connectionString: this.url });
    await client.connect();
    return {
      query: async <T>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[],
      runScript: async (sql: string) => {
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      },
      withMigrationLock: async <T>(fn: () => Promise<T>) => {
        await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
        try {
          return await fn();
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
        }
      },
      close: () => client.end(),
    };
  }

  protected async closeConnections(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

class PgliteConnection extends DatabaseConnection {
  readonly kind = 'pglite' as const;
  readonly sql: HotPathSql;

  private constructor(
    private readonly db: PGlite,
    private readonly releaseLock: () => Promise<void>,
  ) {
    super();
    this.sql = {
      query: async <T>(text: string, values: unknown[]) => (await db.query<T>(text, values)).rows,
      queryArrays: async (text: string, values: unknown[]) => (await db.query<unknown[]>(text, values, { rowMode: 'array' })).rows,
    };
  }

  static async openDir(dataDir: string): Promise<PgliteConnection> {
    const dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(dir, { lockfilePath: `${dir}.lock`, stale: 15_000, update: 5_000 });
    } catch (err) {
      throw new Error(
        `The embedded database at ${dir} is in use by another process (${(err as Error).message}). ` +
          'Stop the other broker first, or point PGLITE_DATA_DIR elsewhere.',
        { cause: err },
      );
    }
    try {
      const db = await PGlite.create(dir);
      return new PgliteConnection(db, release);
    } catch (err) {
      await release();
      throw err;
    }
  }

  prismaAdapter(): PrismaAdapter {
    return new PrismaPGlite(this.db);
  }

  openScriptRunner(): Promise<ScriptRunner> {
    const db = this.db;
    return Promise.resolve({
      query: async <T>(sql: string, params: unknown[] = []) => (await db.query<T>(sql, params)).rows,
      // PGlite's prepared statements refuse multi-statement SQL; exec() takes a whole script.
      runScript: async (sql: string) => {
        await db.transaction(async (tx) => {
          await tx.exec(sql);
        });
      },
      withMigrationLock: (fn) => fn(),
      close: () => Promise.resolve(),
    });
  }

  protected async closeConnections(): Promise<void> {
    try {
      await this.db.close();
    } finally {
      await this.releaseLock().catch(() => undefined);
    }
  }
}
