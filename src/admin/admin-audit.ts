import { isDeepStrictEqual } from 'node:util';
import { Injectable } from '@nestjs/common';
import type { AuditEventInput } from '../audit/audit-event';
import type { AuditOrigin } from '../http/audit-origin';
import { AuditTransactions, type TxClient } from '../audit/audit-transactions';
import type { OperatorPrincipal } from '../operators/operator';

export interface AdminChange {
  readonly deviceId?: string;
  readonly terminalNumber?: string;
  readonly before?: object | null;
  readonly after?: object | null;
  readonly [more: string]: unknown;
}

/** Who made an admin change: an operator (the IdP's subject) or the CLI (`cli:<user>`). */
export type AdminActor = Pick<OperatorPrincipal, 'subject'>;

/**
 * Every admin action leaves one audit event: the actor's subject as actor, and before/after of
 * what changed. The change and its event are written in one transaction (AuditTransactions):
 * either both are committed or neither is, and the caller gets 503 when the event cannot be
 * written. Nothing recorded here is secret: terminals hold a credential *reference*, devices
 * public keys only (recorded by key id).
 */
@Injectable()
export class AdminAudit {
  constructor(private readonly audited: AuditTransactions) {}

  /**
   * Runs `work` in a transaction and records `action` with the change it reports, in the same
   * transaction. `work` must do all its I/O through `tx`.
   */
  change<T>(action: string, actor: AdminActor, origin: AuditOrigin, work: (tx: TxClient) => Promise<{ result: T; change: AdminChange }>): Promise<T> {
    return this.audited.run(async (tx) => {
      const { result, change } = await work(tx);
      return { result, event: adminEvent(action, actor, origin, change) };
    });
  }
}

function adminEvent(action: string, actor: AdminActor, origin: AuditOrigin, change: AdminChange): AuditEventInput {
  const { terminalNumber, ...details } = change;
  return {
    action,
    outcome: 'success',
    actorType: 'operator',
    actorId: actor.subject,
    terminalNumber,
    ...origin,
    details: terminalNumber === undefined ? details : { terminalNumber, ...details },
  };
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
