import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ScriptRunner } from './database-connection';

/**
 * Applies prisma/migrations/<name>/migration.sql in name order and records each in a
 * `_prisma_migrations` table of Prisma's own shape, so `prisma migrate deploy` agrees where its
 * engine exists. A failed migration stays recorded with finished_at NULL and its error in `logs`,
 * and blocks later runs until resolved, as Prisma does.
 */
export class MigrationRunner {
  constructor(
    private readonly runner: ScriptRunner,
    private readonly migrationsDir: string,
  ) {}

  async migrate(): Promise<string[]> {
    return this.runner.withMigrationLock(async () => {
      await this.runner.runScript(PRISMA_MIGRATIONS_TABLE);
      const rows = await this.runner.query<{ migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }>(
        'SELECT migration_name, finished_at, rolled_back_at FROM _prisma_migrations',
      );
      const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
      if (failed) {
        throw new Error(`Migration ${failed.migration_name} failed earlier; resolve it before migrating again.`);
      }
      const done = new Set(rows.filter((r) => r.rolled_back_at === null).map((r) => r.migration_name));
      const applied: string[] = [];
      for (const migration of this.pending(done)) {
        await this.apply(migration);
        applied.push(migration.name);
      }
      return applied;
    });
  }

  private pending(done: Set<string>): Array<{ name: string; sql: string; checksum: string }> {
    if (!existsSync(this.migrationsDir)) throw new Error(`No migrations directory at ${this.migrationsDir}`);
    return readdirSync(this.migrationsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !done.has(e.name))
      .map((e) => e.name)
      .sort()
      .map((name) => {
        const sql = readFileSync(join(this.migrationsDir, name, 'migration.sql'), 'utf8');
        return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
      });
  }

  private async apply(m: { name: string; sql: string; checksum: string }): Promise<void> {
    const id = randomUUID();
    await this.runner.query('INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)', [
      id,
      m.checksum,
      m.name,
    ]);
    try {
      await this.runner.runScript(m.sql);
    } catch (err) {
      await this.runner.query('UPDATE _prisma_migrations SET logs = $2 WHERE id = $1', [id, String((err as Error).message)]);
      throw new Error(`Migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
    }
    await this.runner.query('UPDATE _prisma_migrations SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
  }
}

/** Prisma's own definition of its bookkeeping table. */
const PRISMA_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);`;

/** prisma/migrations of this checkout, found upwards from this file (src/ or dist/src/). */
export function defaultMigrationsDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'prisma', 'migrations');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('prisma/migrations not found above ' + __dirname);
  }
}
