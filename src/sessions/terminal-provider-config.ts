import { Injectable } from '@nestjs/common';
import { DependencyUnavailableError, ValidationError } from '../common/errors';
import { TtlCache } from '../common/ttl-cache';
import { AppConfig } from '../config/app-config';
import { DatabaseConnection } from '../database/database-connection';
import { PrismaService } from '../database/prisma.service';
import { PROVIDERS } from '../gateways/providers';

interface Stored {
  readonly provider: string;
  readonly config: unknown;
}

/**
 * terminal.provider_config: each provider's own non-secret terminal fields. Read for the hot path
 * through a short cache (DEVICE_CACHE_TTL_MS, like the terminal itself) and written only after
 * validation by the provider's schema, so a terminal never holds a configuration its provider
 * would refuse.
 */
@Injectable()
export class TerminalProviderConfigs {
  private readonly cache: TtlCache<string, Stored | null>;

  constructor(
    private readonly prisma: PrismaService,
    private readonly db: DatabaseConnection,
    config: AppConfig,
  ) {
    this.cache = new TtlCache(config.values.DEVICE_CACHE_TTL_MS);
  }

  /** The stored configuration for `provider`; re-read when the cached one was for another provider. */
  async find(terminalNumber: string, provider: string): Promise<unknown> {
    let stored = await this.load(terminalNumber);
    if (stored && stored.provider !== provider) {
      this.cache.invalidate(terminalNumber);
      stored = await this.load(terminalNumber);
    }
    return stored?.provider === provider ? stored.config : undefined;
  }

  /** Validates `config` with the provider's schema and stores it with the provider name. */
  async set(terminalNumber: string, provider: string, config: unknown): Promise<void> {
    const valid = validateProviderConfig(provider, config);
    await this.prisma.terminal.update({
      where: { terminalNumber },
      data: { provider, providerConfig: valid },
    });
    this.cache.invalidate(terminalNumber);
  }

  invalidate(terminalNumber: string): void {
    this.cache.invalidate(terminalNumber);
  }

  /**
   * A prepared statement on the shared pg pool (HotPathSql), not Prisma: on the session path each
   * cache miss through Prisma's query compiler cost milliseconds of CPU (BENCHMARKS.md, Steps).
   */
  private load(terminalNumber: string): Promise<Stored | null> {
    return this.cache
      .get(terminalNumber, async (n) => {
        const [row] = await this.db.sql.query<{ provider: string; config: unknown }>(
          'SELECT provider, provider_config AS config FROM terminal WHERE terminal_number = $1',
          [n],
          'terminal_provider_config',
        );
        return row ? { provider: row.provider, config: row.config } : null;
      })
      .catch((err: unknown) => {
        throw new DependencyUnavailableError('The terminal registry is unavailable; retry later.', 2, { cause: err });
      });
  }
}

/**
 * A provider_config as `provider` requires it (for the CLI and the admin API too): throws a
 * ValidationError naming each bad field, or for an unknown provider.
 */
export function validateProviderConfig(provider: string, config: unknown): object {
  const spec = PROVIDERS.find((p) => p.name === provider);
  if (!spec) throw new ValidationError(`Unknown provider "${provider}" (known: ${PROVIDERS.map((p) => p.name).join(', ')}).`);
  const parsed = spec.configSchema.safeParse(config ?? {});
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({ path: ['providerConfig', ...i.path].join('.'), message: i.message }));
    throw new ValidationError(`The ${provider} terminal configuration is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
  }
  return parsed.data as object;
}
