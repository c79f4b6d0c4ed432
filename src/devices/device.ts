import type { KeyObject } from 'node:crypto';
import type { ScopePolicy } from '../sessions/hyp-scope.schema';

export type DeviceStatus = 'active' | 'disabled' | 'revoked';

export interface DeviceKeyView {
  readonly id: string;
  readonly alg: string;
  /** Built once per cache load, so verification allocates no key material per request. */
  readonly key: KeyObject;
  readonly createdAt: number;
  readonly expiresAt: number | undefined;
}

/** What authentication and the issuance rules need to know about a device. */
export interface DeviceAuthView {
  readonly id: string;
  readonly status: DeviceStatus;
  readonly policy: ScopePolicy;
  readonly keys: readonly DeviceKeyView[];
  readonly terminalNumbers: readonly string[];
}

/** The authenticated caller of a device route. */
export interface DevicePrincipal {
  readonly deviceId: string;
  readonly policy: ScopePolicy;
  readonly terminalNumbers: readonly string[];
  readonly jti: string;
}
