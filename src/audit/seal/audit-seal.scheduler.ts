import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { RecurringJob } from '../../common/recurring-job';
import { AppConfig } from '../../config/app-config';
import { AuditRetention } from './audit-retention';
import { AuditSealer } from './audit-sealer';
import { SealRepository } from './seal.repository';

/**
 * The background job of every instance: every AUDIT_SEAL_INTERVAL_MS (0: never), note the highest
 * event id allocated, wait AUDIT_SEAL_SETTLE_MS so every transaction holding an id up to it has
 * committed or rolled back, seal up to it, then apply retention. The first round runs at start.
 * Instances take turns through the seal lock; whichever comes second finds nothing left to seal.
 * Shutdown aborts the round in flight (between seals: a seal is all-or-nothing) and waits for it.
 */
@Injectable()
export class AuditSealScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('AuditSealer');
  private readonly job: RecurringJob;
  private readonly intervalMs: number;
  private readonly settleMs: number;

  constructor(
    private readonly repo: SealRepository,
    private readonly sealer: AuditSealer,
    private readonly retention: AuditRetention,
    config: AppConfig,
    scheduler: SchedulerRegistry,
  ) {
    this.intervalMs = config.values.AUDIT_SEAL_INTERVAL_MS;
    this.settleMs = config.values.AUDIT_SEAL_SETTLE_MS;
    this.job = new RecurringJob(scheduler, {
      name: 'audit-seal.round',
      everyMs: this.intervalMs,
      run: (signal) => this.round(signal),
      logger: this.logger,
      // The next round retries; a seal is all-or-nothing, so nothing is left half done.
      what: 'sealing round',
    });
  }

  onApplicationBootstrap(): void {
    if (this.intervalMs > 0) this.job.start({ runNow: true });
  }

  async onModuleDestroy(): Promise<void> {
    await this.job.stop();
  }

  /** One round: seal what has settled, then purge what has expired; `signal` stops it between steps. */
  private async round(signal: AbortSignal): Promise<void> {
    const watermark = await this.repo.allocatedWatermark();
    await sleep(this.settleMs, undefined, { signal, ref: false });
    const seals = await this.sealer.sealUpTo(watermark, () => signal.aborted);
    if (seals.length > 0) {
      const events = seals.reduce((n, s) => n + s.eventCount, 0);
      this.logger.log(`sealed ${events} events in seals ${seals[0].seq}..${seals[seals.length - 1].seq}`);
    }
    await this.retention.purgeExpired(() => signal.aborted);
  }
}
