import type { HotPathSql } from '../database/database-connection';
import { IdempotencyState, IdempotencyStore } from './idempotency-store';

/** The same contract in Postgres, for installs without Redis. Expired rows count as absent. */
export class PostgresIdempotencyStore extends IdempotencyStore {
  constructor(private readonly sql: HotPathSql) {
    super();
  }

  async begin(deviceId: string, key: string, requestHash: string, inFlightTtlMs: number): Promise<IdempotencyState> {
    const rows = await this.sql.query<{ mine: boolean }>(
      `INSERT INTO idempotency_record (device_id, idempotency_key, request_hash, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4::double precision / 1000))
       ON CONFLICT (device_id, idempotency_key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, response = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
         WHERE idempotency_record.expires_at < now()
       RETURNING true AS mine`,
      [deviceId, key, requestHash, inFlightTtlMs],
    );
    if (rows.length === 1) return { kind: 'started' };
    return (await this.read(deviceId, key)) ?? (await this.begin(deviceId, key, requestHash, inFlightTtlMs));
  }

  async complete(deviceId: string, key: string, requestHash: string, response: string, ttlMs: number): Promise<void> {
    await this.sql.query(
      `UPDATE idempotency_record SET response = $4, expires_at = now() + make_interval(secs => $5::double precision / 1000)
       WHERE device_id = $1 AND idempotency_key = $2 AND request_hash = $3`,
      [deviceId, key, requestHash, response, ttlMs],
    );
  }

  async release(deviceId: string, key: string): Promise<void> {
    await this.sql.query(`DELETE FROM idempotency_record WHERE device_id = $1 AND idempotency_key = $2 AND response IS NULL`, [deviceId, key]);
  }

  override async purgeExpired(): Promise<void> {
    await this.sql.query(`DELETE FROM idempotency_record WHERE expires_at < now() - interval '1 minute'`, []);
  }

  async read(deviceId: string, key: string): Promise<IdempotencyState | undefined> {
    const [row] = await this.sql.query<{ request_hash: string; response: string | null }>(
      `SELECT request_hash, response FROM idempotency_record WHERE device_id = $1 AND idempotency_key = $2 AND expires_at > now()`,
      [deviceId, key],
    );
    if (!row) return undefined;
    return row.response === null
      ? { kind: 'in-flight', requestHash: row.request_hash }
      : { kind: 'completed', requestHash: row.request_hash, response: row.response };
  }
}
