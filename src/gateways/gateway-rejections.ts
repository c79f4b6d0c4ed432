import { GatewayRejectedError } from '../common/errors';

export interface RejectionKind {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly transient: boolean;
}

/** How a gateway's refusal reaches the device, shared by every provider (Hyp maps its codes to the same). */
export const REJECTIONS = {
  /** Wrong or rotated merchant secret: the issuer reads the secret store again, once. */
  merchantAuth: { status: 502, code: 'gateway-merchant-auth-failed', title: 'Merchant authentication failed', transient: false },
  terminalNotEnabled: { status: 502, code: 'gateway-terminal-not-enabled', title: 'Terminal not enabled for sessions', transient: false },
  general: { status: 502, code: 'gateway-error', title: 'Gateway error', transient: false },
  /** Nothing was issued, so asking again (within the deadline) is safe. */
  rateLimited: { status: 503, code: 'gateway-rate-limited', title: 'Gateway rate limit reached', transient: true },
} as const satisfies Record<string, RejectionKind>;

/**
 * A refusal with a detail of our own wording: the gateway's titles, details and messages are not
 * ours to show (they may name internals), only its result code, which must be short (audit column).
 */
export function gatewayRejected(kind: RejectionKind, resultCode: string, detail: string): GatewayRejectedError {
  return new GatewayRejectedError(resultCode.slice(0, 16), { ...kind, detail });
}
