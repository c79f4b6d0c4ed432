import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DatabaseConnection } from '../src/database/database-connection';
import { migrate } from '../src/database/database.module';

export const AUDIT_ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';

/** Start of the synthetic history; one request (two events) every SPACING_MS after it. */
export const HISTORY_START = Date.parse('2026-01-01T00:00:00.000Z');
export const SPACING_MS = 600;
export const TERMINALS = 200;
export const DEVICES = 1_000;

export interface AuditBenchDb {
  url: string;
  name: string;
  client: Client;
  drop(): Promise<void>;
}

/** A fresh database with the broker's schema (dropped by `drop`). */
export async function createAuditBenchDb(): Promise<AuditBenchDb> {
  const name = `psb_auditbench_${Date.now()}_${randomBytes(2).toString('hex')}`;
  const admin = new Client({ connectionString: AUDIT_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(AUDIT_ADMIN_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  const connection = await DatabaseConnection.open({ databaseUrl: url, poolMax: 1, pgliteDataDir: 'unused' });
  await migrate(connection);
  await connection.close();
  const client = new Client({ connectionString: url });
  await client.connect();
  // One partition per month of the synthetic history (it starts in the past), as the broker's
  // partition job would have made them while the history was written.
  await client.query(`SELECT audit_event_prepare_partitions('month', 2, $1::timestamptz)`, [new Date(HISTORY_START).toISOString()]);
  return {
    url,
    name,
    client,
    drop: async () => {
      await client.end().catch(() => undefined);
      const a = new Client({ connectionString: AUDIT_ADMIN_URL });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/**
 * Events n = lo..hi of a synthetic history shaped like the broker's own: each request is a
 * `session.requested` (pending) followed by its outcome: 94 % issued (gateway 000), 3.5 % failed
 * (303/405/455/456/457), 2 % denied by policy, 0.5 % refused tokens. 1,000 devices over 200
 * terminals. Two independent hashes of the request number pick the device and the outcome.
 */
export const SEED_SQL = `
INSERT INTO audit_event (occurred_at, action, outcome, reason, actor_type, actor_id, terminal_number, scope, request_id,
  client_ip, user_agent, gateway_result, gateway_tran_id, latency_ms, session_fingerprint, details)
SELECT
  to_timestamp(${HISTORY_START / 1000}) + (r * ${SPACING_MS} + (n % 2) * 150) * interval '1 millisecond',
  CASE WHEN n % 2 = 0 THEN 'session.requested'
       WHEN o < 940 THEN 'session.issued' WHEN o < 975 THEN 'session.failed'
       WHEN o < 995 THEN 'session.denied' ELSE 'auth.refused' END,
  CASE WHEN n % 2 = 0 THEN 'pending' WHEN o < 940 THEN 'issued' WHEN o < 975 THEN 'failed' ELSE 'denied' END,
  CASE WHEN n % 2 = 0 OR o < 940 THEN NULL WHEN o < 975 THEN 'gateway-error' WHEN o < 995 THEN 'scope-not-permitted' ELSE 'token-expired' END,
  'device',
  md5('device' || d)::uuid::text,
  '08800' || lpad((d % ${TERMINALS})::text, 5, '0'),
  '{"command":"doDeal","validation":"AutoComm","transactionType":"Credit"}'::jsonb,
  'rq' || lpad(r::text, 14, '0'),
  '10.' || (d / 250) || '.' || (d % 250) || '.7',
  'pos-agent/2.1 (android 13)',
  CASE WHEN n % 2 = 1 AND o < 940 THEN '000'
       WHEN n % 2 = 1 AND o < 975 THEN (ARRAY['303','405','455','456','457'])[1 + o % 5] END,
  CASE WHEN n % 2 = 1 AND o < 940 THEN (100000000 + r)::text END,
  CASE WHEN n % 2 = 1 THEN 20 + o % 180 END,
  CASE WHEN n % 2 = 1 AND o < 940 THEN encode(sha256(('session' || r)::bytea), 'hex') END,
  CASE WHEN n % 2 = 0 THEN '{"provider":"hyp"}'::jsonb END
FROM generate_series($1::bigint, $2::bigint) AS n,
     LATERAL (SELECT n / 2 AS r) req,
     LATERAL (SELECT (r * 2654435761 % 4294967296) % ${DEVICES} AS d,
                     ((r * 1103515245 + 12345) % 2147483648) / 65536 % 1000 AS o) pick`;

/** occurred_at of event n (0-based, in id order). */
export function occurredAtOf(n: number): Date {
  return new Date(HISTORY_START + Math.floor(n / 2) * SPACING_MS + (n % 2) * 150);
}

export function terminalNumber(i: number): string {
  return `08800${String(i % TERMINALS).padStart(5, '0')}`;
}
