import { createPublicKey, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { Client } from 'pg';
import { DatabaseConnection } from '../src/database/database-connection';
import { migrate } from '../src/database/database.module';

export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

export interface BenchFleet {
  databaseUrl: string;
  databaseName: string;
  /** Secret-store path → fields, to be written into Vault. */
  secrets: Record<string, Record<string, string>>;
  terminals: Array<{ id: string; number: string; user: string; password: string }>;
  devices: Array<{ id: string; keyId: string; privateKey: KeyObject; terminal: string }>;
  drop(): Promise<void>;
}

/**
 * A fresh database with the broker's schema, N terminals (numbered from `numberPrefix`, so two
 * fleets share a secret store without clashing) and M devices bound round-robin, each device with
 * a key of its own. Rows go in with one INSERT ... unnest per table and chunk, so a
 * fleet of 100,000 devices is set up in seconds (as an operator's bulk import would).
 */
export async function createFleet(terminalCount: number, deviceCount: number, numberPrefix = '088'): Promise<BenchFleet> {
  const databaseName = `psb_bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${databaseName}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${databaseName}`;
  const databaseUrl = url.toString();

  const connection = await DatabaseConnection.open({ databaseUrl, poolMax: 1, pgliteDataDir: 'unused' });
  await migrate(connection);
  await connection.close();

  const terminals = Array.from({ length: terminalCount }, (_, i) => ({
    id: randomUUID(),
    number: `${numberPrefix}${String(i).padStart(10 - numberPrefix.length, '0')}`,
    user: `bench-merchant-${i}`,
    password: randomBytes(12).toString('base64url'),
  }));
  const secrets: Record<string, Record<string, string>> = {
    'broker/audit-fingerprint-key': { key: randomBytes(32).toString('base64') },
  };
  for (const t of terminals) secrets[`merchants/${t.number}`] = { username: t.user, password: t.password };

  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  for (const chunk of chunks(terminals, 5_000)) {
    await db.query(
      `INSERT INTO terminal (id, terminal_number, label, provider, endpoint_url, credential_ref)
       SELECT id, n, 'bench ' || n, 'hyp', 'http://placeholder', 'merchants/' || n FROM unnest($1::uuid[], $2::varchar[]) AS t(id, n)`,
      [chunk.map((t) => t.id), chunk.map((t) => t.number)],
    );
  }
  const policy = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] };
  const devices: BenchFleet['devices'] = [];
  for (let i = 0; i < deviceCount; i++) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    devices.push({ id: randomUUID(), keyId: randomUUID(), privateKey, terminal: terminals[i % terminalCount].number });
  }
  for (const chunk of chunks(
    devices.map((d, i) => ({ d, i })),
    5_000,
  )) {
    await db.query('BEGIN');
    await db.query(
      `INSERT INTO device (id, name, status, policy) SELECT id, 'bench-pos-' || i, 'active', $3::jsonb FROM unnest($1::uuid[], $2::int[]) AS d(id, i)`,
      [chunk.map((c) => c.d.id), chunk.map((c) => c.i), policy],
    );
    await db.query(
      `INSERT INTO device_key (id, device_id, alg, public_jwk) SELECT id, device_id, 'ES256', jwk FROM unnest($1::uuid[], $2::uuid[], $3::jsonb[]) AS k(id, device_id, jwk)`,
      [chunk.map((c) => c.d.keyId), chunk.map((c) => c.d.id), chunk.map((c) => JSON.stringify(createPublicKey(c.d.privateKey).export({ format: 'jwk' })))],
    );
    await db.query(`INSERT INTO device_terminal (device_id, terminal_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])`, [
      chunk.map((c) => c.d.id),
      chunk.map((c) => terminals[c.i % terminalCount].id),
    ]);
    await db.query('COMMIT');
  }
  await db.end();

  return {
    databaseUrl,
    databaseName,
    secrets,
    terminals,
    devices,
    drop: async () => {
      const a = new Client({ connectionString: ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`);
      await a.end();
    },
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** How many of these request ids have no `session.issued` audit event. */
export async function missingIssuedEvents(databaseUrl: string, requestIds: string[]): Promise<number> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const [{ n }] = (
      await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM unnest($1::varchar[]) AS r(id)
         WHERE NOT EXISTS (SELECT 1 FROM audit_event e WHERE e.request_id = r.id AND e.action = 'session.issued')`,
        [requestIds],
      )
    ).rows;
    return n;
  } finally {
    await db.end();
  }
}

/** Points every terminal at the sandbox once its port is known. */
export async function pointTerminalsAt(databaseUrl: string, endpoint: string): Promise<void> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  await db.query('UPDATE terminal SET endpoint_url = $1', [endpoint]);
  await db.end();
}

export async function pgCounters(databaseUrl: string, databaseName: string): Promise<{ commits: number; issued: number }> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query('SELECT pg_stat_clear_snapshot()');
    const [{ xact_commit }] = (
      await db.query<{ xact_commit: string }>('SELECT xact_commit::bigint AS xact_commit FROM pg_stat_database WHERE datname = $1', [databaseName])
    ).rows;
    const [{ n }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_event WHERE action = 'session.issued'`)).rows;
    return { commits: Number(xact_commit), issued: n };
  } finally {
    await db.end();
  }
}
