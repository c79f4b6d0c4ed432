import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseConnection } from '../src/database/database-connection';
import { migrate } from '../src/database/database.module';
import { createTestDatabase } from './support/test-database';

describe('migration runner', () => {
  it('applies every migration once on Postgres, recorded the way Prisma records them', async () => {
    const db = await createTestDatabase();
    const connection = await DatabaseConnection.open({ databaseUrl: db.url, poolMax: 1, pgliteDataDir: 'unused' });
    try {
      const first = await migrate(connection);
      expect(first.length).toBeGreaterThan(0);
      expect(await migrate(connection)).toEqual([]);
      const rows = await db.query<{ migration_name: string; checksum: string; finished_at: Date; applied_steps_count: number }>(
        'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
      );
      expect(rows.map((r) => r.migration_name)).toEqual(first);
      for (const r of rows) {
        expect(r.checksum).toMatch(/^[0-9a-f]{64}$/);
        expect(r.finished_at).toBeInstanceOf(Date);
        expect(r.applied_steps_count).toBe(1);
      }
    } finally {
      await connection.close();
      await db.drop();
    }
  });

  it('makes the audit table append-only in the database itself', async () => {
    const db = await createTestDatabase();
    const connection = await DatabaseConnection.open({ databaseUrl: db.url, poolMax: 1, pgliteDataDir: 'unused' });
    try {
      await migrate(connection);
      await db.query(`INSERT INTO audit_event (occurred_at, action, outcome, actor_type, request_id) VALUES (now(), 'x', 'success', 'system', 'r1')`);
      await expect(db.query(`UPDATE audit_event SET outcome = 'failed'`)).rejects.toThrow(/append-only/);
      await expect(db.query(`DELETE FROM audit_event`)).rejects.toThrow(/append-only/);
      await expect(db.query(`TRUNCATE audit_event`)).rejects.toThrow(/append-only/);
      expect(await db.query('SELECT count(*)::int AS n FROM audit_event')).toEqual([{ n: 1 }]);
    } finally {
      await connection.close();
      await db.drop();
    }
  });

  it('migrates the embedded PGlite database and keeps a second process off its data directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'psb-pglite-'));
    const dataDir = join(dir, 'pglite');
    const connection = await DatabaseConnection.open({ poolMax: 1, pgliteDataDir: dataDir });
    try {
      const applied = await migrate(connection);
      expect(applied.length).toBeGreaterThan(0);
      expect(await migrate(connection)).toEqual([]);
      await expect(DatabaseConnection.open({ poolMax: 1, pgliteDataDir: dataDir })).rejects.toThrow(/in use by another process/);
    } finally {
      await connection.close();
    }
    // Released on close: the next process may open it.
    const again = await DatabaseConnection.open({ poolMax: 1, pgliteDataDir: dataDir });
    expect(await migrate(again)).toEqual([]);
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
