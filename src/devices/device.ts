import type { KeyObject } from 'node:crypto';
import type { ScopePolicy } from '../policy/scope-policy';

export type DeviceStatus = 'active' | 'disabled' | 'revoked';

export interface DeviceKeyView {
  readonly id: string;
  /** ES256 or EdDSA. */
  readonly alg: string;
  /** Built once per cache load, so verification allocates no key material per request. */
  readonly key: KeyObject;
  readonly createdAt: number;
  /** Set when the key was rotated out: it keeps verifying until then (the grace period). */
  readonly expiresAt: number | undefined;
}

/** What authentication and the issuance rules need to know about a device. */
export interface DeviceAuthView {
  readonly id: string;
  readonly status: DeviceStatus;
  /** null: the policy of the terminal the session is for (its defaultPolicy). */
  readonly policy: ScopePolicy | null;
  /** Newest first. */
  readonly keys: readonly DeviceKeyView[];
  readonly terminalNumbers: readonly string[];
}

/** The authenticated caller of a device route. */
export interface DevicePrincipal {
  readonly deviceId: string;
  /** null: the terminal's defaultPolicy applies. */
  readonly policy: ScopePolicy | null;
  readonly terminalNumbers: readonly string[];
  readonly jti: string;
}
