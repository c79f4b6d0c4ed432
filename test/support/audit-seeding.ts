import type { TestDatabase } from './test-database';

/**
 * Inserts `count` synthetic audit events straight into the table (inserting is what the
 * append-only triggers allow), `stepMs` apart from `start`, and returns their ids in order.
 */
export async function seedEvents(
  db: TestDatabase,
  count: number,
  options: { start?: Date; stepMs?: number; terminal?: string; action?: string; outcome?: string; gatewayResult?: string | null } = {},
): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `INSERT INTO audit_event (occurred_at, action, outcome, actor_type, actor_id, terminal_number, scope, request_id,
        client_ip, user_agent, gateway_result, latency_ms, details)
     SELECT $1::timestamptz + (i * $2::int) * interval '1 millisecond', $4, $5, 'device', 'seed-device-' || (i % 3),
            $3, '{"command":"doDeal","validation":"AutoComm"}'::jsonb, 'seed-' || md5(random()::text || i)::varchar(20),
            '10.0.0.' || (i % 250), 'seed/1.0', $6, i % 500, jsonb_build_object('n', i)
       FROM generate_series(0, $7::int - 1) AS i
     RETURNING id::text`,
    [
      (options.start ?? new Date()).toISOString(),
      options.stepMs ?? 1,
      options.terminal ?? '0882819014',
      options.action ?? 'session.issued',
      options.outcome ?? 'issued',
      options.gatewayResult === undefined ? '000' : options.gatewayResult,
      count,
    ],
  );
  return rows.map((r) => r.id).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
}

/** Runs `sql` as the table owner with the append-only triggers switched off: what an attacker with owner rights can do. */
export async function asOwnerBypassingTriggers(db: TestDatabase, table: string, sql: string, params: unknown[] = []): Promise<void> {
  await db.query('BEGIN');
  try {
    await db.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
    await db.query(sql, params);
    await db.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK');
    throw err;
  }
}
