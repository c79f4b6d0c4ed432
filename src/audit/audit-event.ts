export type AuditOutcome = 'pending' | 'issued' | 'denied' | 'failed' | 'success';
export type AuditActorType = 'device' | 'operator' | 'bootstrap' | 'anonymous' | 'system';

/**
 * One audit record (PCI DSS 10.2.2: who, what, when, where from, outcome). Never holds a
 * sessionId or a credential: a session is identified by its keyed fingerprint only.
 */
export interface AuditEventInput {
  readonly action: string;
  readonly outcome: AuditOutcome;
  readonly reason?: string;
  readonly actorType: AuditActorType;
  /** Device id, operator subject; for refused authentications the *claimed* device id. */
  readonly actorId?: string;
  readonly terminalNumber?: string;
  readonly scope?: object | null;
  readonly requestId: string;
  readonly clientIp?: string;
  readonly userAgent?: string;
  readonly gatewayResult?: string;
  readonly gatewayTranId?: string;
  readonly latencyMs?: number;
  readonly sessionFingerprint?: string;
  readonly details?: object;
  readonly occurredAt?: Date;
}
