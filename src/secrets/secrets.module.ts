import { Global, Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { FileSecretsProvider } from './file-secrets.provider';
import { SecretsProvider } from './secrets-provider';

@Global()
@Module({
  providers: [
    {
      provide: SecretsProvider,
      inject: [AppConfig],
      useFactory: (config: AppConfig): SecretsProvider =>
        new FileSecretsProvider(config.values.SECRETS_FILE, config.values.SECRETS_CACHE_TTL_MS),
    },
  ],
  exports: [SecretsProvider],
})
export class SecretsModule {}
