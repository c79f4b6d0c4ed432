import { readFileSync } from 'node:fs';
import { Logger } from '@nestjs/common';
import type { SchedulerRegistry } from '@nestjs/schedule';
import type { Config } from '../../config/config.schema';
import { AppRoleSource, KubernetesSource, StaticTokenSource, VaultTokenManager, type TokenSource, type ValueOrFile, type VaultLog } from './vault-auth';
import { VaultClient } from './vault-client';
import { VaultSecretsProvider } from './vault-secrets.provider';

/**
 * Builds the Vault provider from the validated settings (config.schema.ts checked their combinations).
 * `scheduler`: the application's, where its background refresh is registered.
 */
export function createVaultSecretsProvider(c: Config, logger?: VaultLog, scheduler?: SchedulerRegistry): VaultSecretsProvider {
  if (!c.VAULT_ADDR) throw new Error('VAULT_ADDR is required with SECRETS_PROVIDER=vault');
  let ca: string | undefined;
  if (c.VAULT_CA_FILE) {
    try {
      ca = readFileSync(c.VAULT_CA_FILE, 'utf8');
    } catch (err) {
      throw new Error(`VAULT_CA_FILE (${c.VAULT_CA_FILE}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
  }
  const client = new VaultClient({
    address: c.VAULT_ADDR,
    namespace: c.VAULT_NAMESPACE,
    ca,
    requestTimeoutMs: c.VAULT_REQUEST_TIMEOUT_MS,
  });
  const auth = new VaultTokenManager(client, tokenSource(c), logger ?? new Logger('VaultAuth'));
  return new VaultSecretsProvider(
    client,
    auth,
    { mount: c.VAULT_KV_MOUNT, cacheTtlMs: c.SECRETS_CACHE_TTL_MS, maxStalenessMs: c.VAULT_MAX_STALENESS_MS },
    logger,
    scheduler,
  );
}

function tokenSource(c: Config): TokenSource {
  switch (c.VAULT_AUTH_METHOD) {
    case 'approle':
      return new AppRoleSource(
        c.VAULT_AUTH_MOUNT ?? 'approle',
        valueOrFile(c.VAULT_APPROLE_ROLE_ID, c.VAULT_APPROLE_ROLE_ID_FILE, 'VAULT_APPROLE_ROLE_ID'),
        valueOrFile(c.VAULT_APPROLE_SECRET_ID, c.VAULT_APPROLE_SECRET_ID_FILE, 'VAULT_APPROLE_SECRET_ID'),
      );
    case 'kubernetes':
      if (!c.VAULT_KUBERNETES_ROLE) throw new Error('VAULT_KUBERNETES_ROLE is required with VAULT_AUTH_METHOD=kubernetes');
      return new KubernetesSource(c.VAULT_AUTH_MOUNT ?? 'kubernetes', c.VAULT_KUBERNETES_ROLE, c.VAULT_KUBERNETES_JWT_PATH);
    default:
      return new StaticTokenSource(valueOrFile(c.VAULT_TOKEN, c.VAULT_TOKEN_FILE, 'VAULT_TOKEN'));
  }
}

function valueOrFile(value: string | undefined, file: string | undefined, setting: string): ValueOrFile {
  if (file) return { file, setting: `${setting}_FILE` };
  if (value) return { value, setting };
  throw new Error(`${setting} or ${setting}_FILE is required`);
}
