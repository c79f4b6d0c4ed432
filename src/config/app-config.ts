import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Config } from './config.schema';

/** Typed, read-only view of the validated configuration; the only place settings are read. */
@Injectable()
export class AppConfig {
  readonly values: Readonly<Config>;

  constructor(configService: ConfigService) {
    const values = configService.get<Config>('broker');
    if (!values) throw new Error('configuration was not loaded');
    this.values = Object.freeze(values);
  }

  get isProduction(): boolean {
    return this.values.NODE_ENV === 'production';
  }

  get usesEmbeddedDatabase(): boolean {
    return this.values.DATABASE_URL === undefined;
  }

  get migrateOnStart(): boolean {
    return this.values.MIGRATE_ON_START ?? this.usesEmbeddedDatabase;
  }
}
