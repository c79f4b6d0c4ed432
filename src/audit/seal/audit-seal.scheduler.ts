import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { AuditRetention } from './audit-retention';
import { AuditSealer } from './audit-sealer';
import { SealRepository } from './seal.repository';

/**
 * The background job of every instance: every AUDIT_SEAL_INTERVAL_MS, note the highest event id
 * allocated, wait AUDIT_SEAL_SETTLE_MS so every transaction holding an id up to it has committed
 * or rolled back, seal up to it, then apply retention. Instances take turns through the seal lock;
 * whichever comes second finds nothing left to seal.
 */
@Injectable()
export class AuditSealScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('AuditSealer');
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly intervalMs: number;
  private readonly settleMs: number;

  constructor(
    private readonly repo: SealRepository,
    private readonly sealer: AuditSealer,
    private readonly retention: AuditRetention,
    config: AppConfig,
  ) {
    this.intervalMs = config.values.AUDIT_SEAL_INTERVAL_MS;
    this.settleMs = config.values.AUDIT_SEAL_SETTLE_MS;
  }

  onApplicationBootstrap(): void {
    if (this.intervalMs > 0) this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** One round: seal what has settled, then purge what has expired. */
  async tick(): Promise<void> {
    const signal = this.stopping.signal;
    const watermark = await this.repo.allocatedWatermark();
    await sleep(this.settleMs, undefined, { signal, ref: false });
    const seals = await this.sealer.sealUpTo(watermark, () => signal.aborted);
    if (seals.length > 0) {
      const events = seals.reduce((n, s) => n + s.eventCount, 0);
      this.logger.log(`sealed ${events} events in seals ${seals[0].seq}..${seals[seals.length - 1].seq}`);
    }
    await this.retention.purgeExpired(() => signal.aborted);
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (err) {
        if (signal.aborted) return;
        // The next round retries; a seal is all-or-nothing, so nothing is left half done.
        this.logger.warn(`sealing round failed: ${(err as Error).message}`);
      }
      try {
        await sleep(this.intervalMs, undefined, { signal, ref: false });
      } catch {
        return;
      }
    }
  }
}
