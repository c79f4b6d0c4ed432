import { Injectable } from '@nestjs/common';
import { DependencyUnavailableError } from '../common/errors';
import { TtlCache } from '../common/ttl-cache';
import { AppConfig } from '../config/app-config';
import type { DeviceAuthView } from './device';
import { DeviceRepository } from './device.repository';

/**
 * Device keys, status, policy and bindings for the hot path, cached for DEVICE_CACHE_TTL_MS.
 * Changes made through this instance invalidate at once; other instances see them within the TTL.
 */
@Injectable()
export class DeviceDirectory {
  private readonly cache: TtlCache<string, DeviceAuthView | null>;

  constructor(
    private readonly repository: DeviceRepository,
    config: AppConfig,
  ) {
    this.cache = new TtlCache(config.values.DEVICE_CACHE_TTL_MS);
  }

  find(deviceId: string): Promise<DeviceAuthView | null> {
    return this.cache.get(deviceId, (id) => this.repository.findAuthViewLean(id)).catch(unavailable);
  }

  invalidate(deviceId: string): void {
    this.cache.invalidate(deviceId);
  }
}

/** A database that cannot be read is a 503 for the caller, never a 500 (nor a 401). */
function unavailable(err: unknown): never {
  throw new DependencyUnavailableError('The device registry is unavailable; retry later.', 2, { cause: err });
}
