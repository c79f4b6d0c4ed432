import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AppConfig } from './app-config';
import { validateConfig } from './config.schema';

/**
 * Loads and validates the configuration once. The environment is passed in (process.env by
 * default) so tests and the CLI can start isolated instances without touching process.env.
 */
@Global()
@Module({})
export class BrokerConfigModule {
  static forRoot(env: Record<string, string | undefined> = process.env): DynamicModule {
    return {
      module: BrokerConfigModule,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          cache: true,
          load: [() => ({ broker: validateConfig(env) })],
        }),
      ],
      providers: [AppConfig],
      exports: [AppConfig],
    };
  }
}
