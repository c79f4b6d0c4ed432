import { Injectable } from '@nestjs/common';
import { TtlCache } from '../common/ttl-cache';
import { AppConfig } from '../config/app-config';
import type { Terminal } from './terminal';
import { TerminalRepository } from './terminal.repository';

/** Terminal lookups for the hot path, cached for a few seconds (DEVICE_CACHE_TTL_MS). */
@Injectable()
export class TerminalDirectory {
  private readonly cache: TtlCache<string, Terminal | null>;

  constructor(
    private readonly repository: TerminalRepository,
    config: AppConfig,
  ) {
    this.cache = new TtlCache(config.values.DEVICE_CACHE_TTL_MS);
  }

  find(terminalNumber: string): Promise<Terminal | null> {
    return this.cache.get(terminalNumber, (n) => this.repository.findByNumber(n));
  }

  invalidate(terminalNumber: string): void {
    this.cache.invalidate(terminalNumber);
  }
}
