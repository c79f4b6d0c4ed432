import { Injectable } from '@nestjs/common';
import { DependencyUnavailableError } from '../common/errors';
import { PrismaService } from '../database/prisma.service';

export interface Issuance {
  /** The device the session was issued to. */
  readonly deviceId: string | null;
  readonly terminalNumber: string | null;
  /** The provider that issued it (events written before providers were recorded: hyp). */
  readonly provider: string;
}

/**
 * Who a session belongs to, found through the audit trail (the `session.issued` event with the
 * session's keyed fingerprint) rather than by storing sessions: the broker keeps no sessionId.
 */
@Injectable()
export class SessionOwnership {
  constructor(private readonly prisma: PrismaService) {}

  async issuance(fingerprint: string): Promise<Issuance | undefined> {
    const row = await this.prisma.auditEvent
      .findFirst({
        where: { sessionFingerprint: fingerprint, action: 'session.issued' },
        select: { actorId: true, terminalNumber: true, details: true },
        orderBy: { id: 'asc' },
      })
      .catch(unavailable);
    if (!row) return undefined;
    const details = row.details as { provider?: unknown } | null;
    return {
      deviceId: row.actorId,
      terminalNumber: row.terminalNumber,
      provider: typeof details?.provider === 'string' ? details.provider : 'hyp',
    };
  }

  async isClosed(fingerprint: string): Promise<boolean> {
    const row = await this.prisma.auditEvent
      .findFirst({ where: { sessionFingerprint: fingerprint, action: 'session.closed' }, select: { id: true } })
      .catch(unavailable);
    return row !== null;
  }
}

function unavailable(err: unknown): never {
  throw new DependencyUnavailableError('The audit trail cannot be read; retry later.', 2, { cause: err });
}
