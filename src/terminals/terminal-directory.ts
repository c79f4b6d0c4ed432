import { Injectable } from '@nestjs/common';
import { DependencyUnavailableError } from '../common/errors';
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
    return this.cache.get(terminalNumber, (n) => this.repository.findByNumber(n)).catch(unavailable);
  }

  invalidate(terminalNumber: string): void {
    this.cache.invalidate(terminalNumber);
  }
}

/** A database that cannot be read is a 503 for the caller, never a 500 (nor a 401). */
function unavailable(err: unknown): never {
  throw new DependencyUnavailableError('The terminal registry is unavailable; retry later.', 2, { cause: err });
}
