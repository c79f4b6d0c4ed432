import { Global, Module } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { FileSecretsProvider } from './file-secrets.provider';
import { SecretsProvider } from './secrets-provider';
import { createVaultSecretsProvider } from './vault/vault-provider.factory';

@Global()
@Module({
  providers: [
    {
      provide: SecretsProvider,
      inject: [AppConfig, SchedulerRegistry],
      // Vault in production (config.schema.ts refuses the file provider there); the file for development.
      useFactory: (config: AppConfig, scheduler: SchedulerRegistry): SecretsProvider =>
        config.values.SECRETS_PROVIDER === 'vault'
          ? createVaultSecretsProvider(config.values, undefined, scheduler)
          : new FileSecretsProvider(config.values.SECRETS_FILE, config.values.SECRETS_CACHE_TTL_MS),
    },
  ],
  exports: [SecretsProvider],
})
export class SecretsModule {}
