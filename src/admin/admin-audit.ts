import { isDeepStrictEqual } from 'node:util';
import { Injectable } from '@nestjs/common';
import type { AuditOrigin } from '../audit/audit-event';
import { AuditTrail } from '../audit/audit-trail';
import type { OperatorPrincipal } from '../operators/operator';

export interface AdminChange {
  readonly deviceId?: string;
  readonly terminalNumber?: string;
  readonly before?: object | null;
  readonly after?: object | null;
  readonly [more: string]: unknown;
}

/**
 * Every admin action leaves one audit event: the operator's subject as actor, and before/after
 * of what changed. Nothing recorded here is secret: terminals hold a credential *reference*, devices
 * public keys only (recorded by key id).
 */
@Injectable()
export class AdminAudit {
  constructor(private readonly audit: AuditTrail) {}

  record(action: string, operator: OperatorPrincipal, origin: AuditOrigin, change: AdminChange): Promise<void> {
    const { terminalNumber, ...details } = change;
    return this.audit.record({
      action,
      outcome: 'success',
      actorType: 'operator',
      actorId: operator.subject,
      terminalNumber,
      ...origin,
      details: terminalNumber === undefined ? details : { terminalNumber, ...details },
    });
  }
}

/** The fields whose values differ, as {before, after} holding only those fields. */
export function changedFields<T extends object>(before: T, after: T, fields: ReadonlyArray<keyof T>): { before: Partial<T>; after: Partial<T> } {
  const b: Partial<T> = {};
  const a: Partial<T> = {};
  for (const f of fields) {
    if (isDeepStrictEqual(before[f], after[f])) continue;
    b[f] = before[f];
    a[f] = after[f];
  }
  return { before: b, after: a };
}
