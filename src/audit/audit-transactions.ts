import { Injectable, Logger } from '@nestjs/common';
import { AuditUnavailableError, BrokerError, DependencyUnavailableError } from '../common/errors';
import { PrismaService } from '../database/prisma.service';
import type { Prisma } from '../generated/prisma/client';
import type { AuditEventInput } from './audit-event';
import { INSERT_AUDIT_ROW, toAuditRow } from './audit-row';

/** A Prisma interactive transaction: what repositories take to run inside someone else's transaction. */
export type TxClient = Prisma.TransactionClient;

/** A change made inside a transaction, and the audit event that records it. */
export interface AuditedResult<T> {
  readonly result: T;
  readonly event: AuditEventInput;
}

/**
 * Admin changes and their audit events stand or fall together (issue 11 §2): the change and its
 * event are written in one database transaction, so a change is never committed without its
 * event, and an event never records a change that did not happen. Admin changes are rare, so they
 * skip the group commit (AuditTrail) and pay for their own transaction; the row is the same
 * (audit-row.ts).
 *
 * Works on Postgres and on the embedded PGlite (pglite-prisma-adapter runs interactive
 * transactions). Inside `work`, every query must go through `tx`: PGlite has one connection, and
 * a query outside the transaction would wait for it to end.
 */
@Injectable()
export class AuditTransactions {
  private readonly logger = new Logger('AuditTrail');

  constructor(private readonly prisma: PrismaService) {}

  /**
   * Runs `work`, then inserts the event it returns, in one transaction (or inside `tx` when the
   * caller already has one, which then commits both). The event is the transaction's last
   * statement: its id is allocated just before the commit, which keeps the window in which the
   * sealer could see a later id committed before it (AUDIT_SEAL_SETTLE_MS) as short as it can be.
   * Errors of `work` are passed on untouched and roll everything back; an event that cannot be
   * written rolls the change back too and rejects with AuditUnavailableError (503).
   */
  async run<T>(work: (tx: TxClient) => Promise<AuditedResult<T>>, tx?: TxClient): Promise<T> {
    let started = false;
    let auditing = false;
    const inTx = async (t: TxClient): Promise<T> => {
      started = true;
      const { result, event } = await work(t);
      auditing = true;
      await this.insert(t, event);
      return result;
    };
    if (tx) return inTx(tx);
    try {
      return await this.prisma.$transaction(inTx);
    } catch (err) {
      if (err instanceof BrokerError) throw err;
      // A commit that fails after the event was inserted: nothing was written, event included.
      if (auditing) throw this.unavailable(err);
      // No connection to run the transaction on (database down, pool exhausted): nothing done.
      if (!started) throw new DependencyUnavailableError('The database is unavailable; the change was not made. Retry later.', 5, { cause: err });
      throw err;
    }
  }

  /** Inserts one event inside `tx`; rejects with AuditUnavailableError, which must roll `tx` back. */
  async insert(tx: TxClient, event: AuditEventInput): Promise<void> {
    try {
      await tx.$executeRawUnsafe(INSERT_AUDIT_ROW, ...toAuditRow(event));
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  private unavailable(err: unknown): AuditUnavailableError {
    // The driver's message names the failure (constraint, connection), never the row's values.
    this.logger.error(`audit event in a transaction failed: ${(err as Error).message}`);
    return new AuditUnavailableError({ cause: err });
  }
}
