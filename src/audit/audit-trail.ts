import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { GroupCommit } from '../common/group-commit';
import { AuditUnavailableError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { PrismaService } from '../database/prisma.service';
import type { Prisma } from '../generated/prisma/client';
import type { AuditEventInput } from './audit-event';

/**
 * Append-only audit writer with group commit: the events of concurrent requests are written in
 * one INSERT (one transaction), and each caller waits until its own events are durable. A failed
 * flush fails every waiter with AuditUnavailableError (fail closed).
 */
@Injectable()
export class AuditTrail implements OnApplicationShutdown {
  private readonly logger = new Logger('AuditTrail');
  private readonly writer: GroupCommit<Prisma.AuditEventCreateManyInput, void>;

  constructor(
    private readonly prisma: PrismaService,
    config: AppConfig,
  ) {
    this.writer = new GroupCommit((rows) => this.insert(rows), config.values.AUDIT_BATCH_MAX);
  }

  /** Resolves once the event is committed; rejects with AuditUnavailableError otherwise. */
  record(event: AuditEventInput): Promise<void> {
    return this.writer.submit(toRow(event));
  }

  get flushes(): number {
    return this.writer.flushes;
  }

  /** Waits for every queued event to be written (graceful shutdown). */
  drain(): Promise<void> {
    return this.writer.drain();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.drain();
  }

  private async insert(rows: Prisma.AuditEventCreateManyInput[]): Promise<void[]> {
    try {
      await this.prisma.auditEvent.createMany({ data: rows });
      return new Array<void>(rows.length);
    } catch (err) {
      this.logger.error(`audit flush of ${rows.length} events failed: ${(err as Error).message}`);
      throw new AuditUnavailableError({ cause: err });
    }
  }
}

const NUL = /\u0000/g;
function text(value: string | undefined, max: number): string | undefined {
  if (value === undefined) return undefined;
  const clean = value.replace(NUL, '');
  return clean.length > max ? clean.slice(0, max) : clean;
}

/** Clips every field to its column so that one odd request can never fail a whole batch. */
function toRow(e: AuditEventInput): Prisma.AuditEventCreateManyInput {
  return {
    occurredAt: e.occurredAt ?? new Date(),
    action: e.action.slice(0, 64),
    outcome: e.outcome,
    reason: text(e.reason, 200),
    actorType: e.actorType,
    actorId: text(e.actorId, 128),
    terminalNumber: text(e.terminalNumber, 10),
    scope: (e.scope ?? undefined) as Prisma.InputJsonValue | undefined,
    requestId: text(e.requestId, 64) ?? '',
    clientIp: text(e.clientIp, 64),
    userAgent: text(e.userAgent, 512),
    gatewayResult: text(e.gatewayResult, 16),
    gatewayTranId: text(e.gatewayTranId, 64),
    latencyMs: e.latencyMs === undefined ? undefined : Math.min(Math.round(e.latencyMs), 2_147_483_647),
    sessionFingerprint: e.sessionFingerprint,
    details: e.details as Prisma.InputJsonValue | undefined,
  };
}
