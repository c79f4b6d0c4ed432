import type { SecretRecord } from './secret-record';

/**
 * Where merchant credentials and the broker's own keys live. `ref` is a path in the store
 * (a terminal's credential reference, or AUDIT_FINGERPRINT_KEY_REF). Values exist only in memory.
 */
export abstract class SecretsProvider {
  abstract readonly name: string;
  /** Throws SecretNotFoundError for an unknown ref, DependencyUnavailableError when the store is down. */
  abstract get(ref: string): Promise<SecretRecord>;
  /**
   * Reads `ref` from the store again, bypassing any cache: used when the gateway says the
   * credentials are wrong (rotated since they were cached).
   */
  abstract refresh(ref: string): Promise<SecretRecord>;
  /** For readiness: resolves when the store can be read. */
  abstract check(): Promise<void>;
}
