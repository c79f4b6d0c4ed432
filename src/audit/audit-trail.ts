import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AuditUnavailableError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { PrismaService } from '../database/prisma.service';
import type { Prisma } from '../generated/prisma/client';
import type { AuditEventInput } from './audit-event';

interface Waiter {
  row: Prisma.AuditEventCreateManyInput;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Append-only audit writer with group commit: events recorded while a flush is in flight are
 * written together by the next one, in one INSERT (one transaction). Each caller still waits
 * until its own events are durable; a failed flush fails every waiter (fail closed).
 */
@Injectable()
export class AuditTrail implements OnApplicationShutdown {
  private readonly logger = new Logger('AuditTrail');
  private queue: Waiter[] = [];
  private flushing: Promise<void> | undefined;
  private readonly batchMax: number;
  flushes = 0;

  constructor(
    private readonly prisma: PrismaService,
    config: AppConfig,
  ) {
    this.batchMax = config.values.AUDIT_BATCH_MAX;
  }

  /** Resolves once the event is committed; rejects with AuditUnavailableError otherwise. */
  record(event: AuditEventInput): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row: toRow(event), resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  /** Waits for every queued event to be written (graceful shutdown). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.drain();
  }

  private async flushLoop(): Promise<void> {
    // Let the requests of this tick join the first batch.
    await new Promise<void>((r) => setImmediate(r));
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.length <= this.batchMax ? this.queue : this.queue.slice(0, this.batchMax);
        this.queue = batch === this.queue ? [] : this.queue.slice(this.batchMax);
        try {
          await this.prisma.auditEvent.createMany({ data: batch.map((w) => w.row) });
          this.flushes++;
          for (const w of batch) w.resolve();
        } catch (err) {
          this.logger.error(`audit flush of ${batch.length} events failed: ${(err as Error).message}`);
          const failure = new AuditUnavailableError({ cause: err });
          for (const w of batch) w.reject(failure);
        }
      }
    } finally {
      this.flushing = undefined;
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
