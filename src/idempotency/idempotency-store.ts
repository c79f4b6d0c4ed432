/** What a store knows about one (device, Idempotency-Key). */
export type IdempotencyState =
  | { kind: 'started' } // this caller owns the key now
  | { kind: 'in-flight'; requestHash: string }
  | { kind: 'completed'; requestHash: string; response: string };

/**
 * Shared by every instance (Redis or Postgres). `response` is opaque (already encrypted).
 */
export abstract class IdempotencyStore {
  /** Claims the key for a new request, or reports what is there already. */
  abstract begin(deviceId: string, key: string, requestHash: string, inFlightTtlMs: number): Promise<IdempotencyState>;
  abstract complete(deviceId: string, key: string, requestHash: string, response: string, ttlMs: number): Promise<void>;
  /** The request failed: release the key so a retry runs again. */
  abstract release(deviceId: string, key: string): Promise<void>;
  abstract read(deviceId: string, key: string): Promise<IdempotencyState | undefined>;
  /**
   * Deletes expired records, for a store that keeps them until told (Postgres; expired rows already
   * count as absent, this only frees the space). Absent where records expire on their own (Redis TTL).
   */
  purgeExpired?(): Promise<void>;
}
