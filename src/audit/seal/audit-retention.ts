import { randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { SealRepository } from './seal.repository';

/** Seals removed per purge transaction, so one purge never holds a huge transaction open. */
const MAX_SEALS_PER_PURGE = 100;

/**
 * Expires audit history older than AUDIT_RETENTION_DAYS, whole sealed periods at a time, through
 * the database's own audit_purge_expired() (the only DELETE the append-only triggers allow). Each
 * purge leaves an audit_retention record and an `audit.retention.purged` event.
 */
@Injectable()
export class AuditRetention {
  private readonly logger = new Logger('AuditRetention');
  private readonly days: number;

  constructor(
    private readonly repo: SealRepository,
    config: AppConfig,
  ) {
    this.days = config.values.AUDIT_RETENTION_DAYS;
  }

  get enabled(): boolean {
    return this.days > 0;
  }

  /** Purges everything that has expired; returns what each purge recorded. */
  async purgeExpired(shouldStop: () => boolean = () => false): Promise<Array<Record<string, unknown>>> {
    if (!this.enabled) return [];
    const done: Array<Record<string, unknown>> = [];
    while (!shouldStop()) {
      const result = await this.repo.purgeExpired(this.days, MAX_SEALS_PER_PURGE, `retention-${randomBytes(6).toString('base64url')}`);
      if (!result) break;
      this.logger.log(
        `retention purged seals through ${String(result.throughSealSeq)} (${String(result.eventsDeleted)} events older than ${String(result.cutoff)})`,
      );
      done.push(result);
    }
    return done;
  }
}
