import { Module } from '@nestjs/common';
import { DatabaseConnection } from '../database/database-connection';
import { REDIS, type RedisClient } from '../redis/redis.module';
import { IdempotencyStore } from './idempotency-store';
import { IdempotentIssuance } from './idempotent-issuance';
import { PostgresIdempotencyStore } from './postgres-idempotency.store';
import { RedisIdempotencyStore } from './redis-idempotency.store';

@Module({
  providers: [
    {
      provide: IdempotencyStore,
      inject: [REDIS, DatabaseConnection],
      useFactory: (redis: RedisClient, db: DatabaseConnection): IdempotencyStore =>
        redis ? new RedisIdempotencyStore(redis) : new PostgresIdempotencyStore(db.sql),
    },
    IdempotentIssuance,
  ],
  exports: [IdempotentIssuance],
})
export class IdempotencyModule {}
