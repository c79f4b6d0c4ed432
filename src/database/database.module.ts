import { Global, Inject, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { BrokerMetrics } from '../metrics/broker-metrics';
import { AuditReadDatabase } from './audit-read-database';
import { DatabaseConnection } from './database-connection';
import { MigrationRunner, defaultMigrationsDir } from './migration-runner';
import { PrismaService } from './prisma.service';

@Global()
@Module({
  providers: [
    {
      provide: DatabaseConnection,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        DatabaseConnection.open({
          databaseUrl: config.values.DATABASE_URL,
          poolMax: config.values.DATABASE_POOL_MAX,
          pgliteDataDir: config.values.PGLITE_DATA_DIR,
          timeouts: {
            connectMs: config.values.DATABASE_CONNECT_TIMEOUT_MS,
            statementMs: config.values.DATABASE_STATEMENT_TIMEOUT_MS,
            queryMs: config.values.DATABASE_QUERY_TIMEOUT_MS,
            keepAliveDelayMs: config.values.DATABASE_KEEPALIVE_DELAY_MS,
          },
        }),
    },
    { provide: PrismaService, inject: [DatabaseConnection], useFactory: (c: DatabaseConnection) => new PrismaService(c) },
    {
      // Auditor reads: the replica of AUDIT_READ_DATABASE_URL, or the primary's pool when unset.
      provide: AuditReadDatabase,
      inject: [DatabaseConnection, AppConfig, BrokerMetrics],
      useFactory: (c: DatabaseConnection, config: AppConfig, metrics: BrokerMetrics) => {
        const read = new AuditReadDatabase(c.sql, {
          url: config.values.AUDIT_READ_DATABASE_URL,
          poolMax: config.values.DATABASE_POOL_MAX,
          timeouts: {
            connectMs: config.values.DATABASE_CONNECT_TIMEOUT_MS,
            statementMs: config.values.DATABASE_STATEMENT_TIMEOUT_MS,
            queryMs: config.values.DATABASE_QUERY_TIMEOUT_MS,
            keepAliveDelayMs: config.values.DATABASE_KEEPALIVE_DELAY_MS,
          },
          registry: metrics.registry,
        });
        c.onBeforeClose(() => read.close());
        return read;
      },
    },
  ],
  exports: [DatabaseConnection, PrismaService, AuditReadDatabase],
})
export class DatabaseModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Database');

  constructor(
    @Inject(DatabaseConnection) private readonly connection: DatabaseConnection,
    private readonly config: AppConfig,
  ) {}

  /** Embedded mode migrates at start; with a Postgres server, `npm run migrate` does it offline. */
  async onModuleInit(): Promise<void> {
    if (!this.config.migrateOnStart) return;
    const applied = await migrate(this.connection);
    if (applied.length > 0) this.logger.log(`applied migrations: ${applied.join(', ')}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }
}

export async function migrate(connection: DatabaseConnection): Promise<string[]> {
  const runner = await connection.openScriptRunner();
  try {
    return await new MigrationRunner(runner, defaultMigrationsDir()).migrate();
  } finally {
    await runner.close();
  }
}
