import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { BrokerError } from '../common/errors';
import { AuditReadDatabase } from '../database/audit-read-database';
import { DatabaseConnection } from '../database/database-connection';
import { REDIS, type RedisClient } from '../redis/redis.module';
import { SecretsProvider } from '../secrets/secrets-provider';
import { GatewayResilience } from '../gateways/gateway-resilience';

const CHECK_TIMEOUT_MS = 2_000;

function within<T>(promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref()),
  ]);
}

/** One terminus indicator per dependency; messages name the problem, never a secret. */
@Injectable()
export class ReadinessChecks {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly db: DatabaseConnection,
    private readonly secrets: SecretsProvider,
    private readonly resilience: GatewayResilience,
    @Inject(REDIS) private readonly redis: RedisClient,
    private readonly auditRead: AuditReadDatabase,
  ) {}

  /**
   * The auditor API's read replica (AUDIT_READ_DATABASE_URL), named, with its replay lag. Always
   * "up": an unreachable replica sends auditor reads to the primary, and must not take the
   * instance out of service, since issuance never uses it.
   */
  async auditReadReplica(): Promise<HealthIndicatorResult> {
    const check = this.indicators.check('auditReadReplica');
    if (!this.auditRead.configured) return check.up({ replica: 'none', readsFrom: 'primary' });
    return within(this.auditRead.check()).then(
      (state) => check.up({ ...state }),
      (err: Error) => check.up({ replica: this.auditRead.replica, reachable: false, replayLagMs: null, readsFrom: 'primary', message: err.message }),
    );
  }

  async database(): Promise<HealthIndicatorResult> {
    const check = this.indicators.check('database');
    return within(this.db.sql.query('SELECT 1', [])).then(
      () => check.up(),
      (err: Error) => check.down(err.message),
    );
  }

  async secretStore(): Promise<HealthIndicatorResult> {
    const check = this.indicators.check('secrets');
    return within(this.secrets.check()).then(
      () => check.up({ provider: this.secrets.name }),
      // A BrokerError's detail is safe to show by contract (e.g. "Vault is sealed."); anything else is not.
      (err: unknown) => check.down({ provider: this.secrets.name, message: err instanceof BrokerError ? err.detail : 'secret store unavailable' }),
    );
  }

  async redisStore(): Promise<HealthIndicatorResult> {
    const check = this.indicators.check('redis');
    if (!this.redis) return check.up({ message: 'not configured' });
    return within(this.redis.ping()).then(
      () => check.up(),
      (err: Error) => check.down(err.message),
    );
  }

  gateways(): Promise<HealthIndicatorResult> {
    const check = this.indicators.check('gateways');
    const states = this.resilience.states();
    const open = states.filter((s) => s.state === 'open').map((s) => s.origin);
    return Promise.resolve(
      open.length === 0 ? check.up({ breakers: states }) : check.down({ breakers: states, message: `circuit open for ${open.join(', ')}` }),
    );
  }
}
