import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { BrokerError, DependencyUnavailableError, RateLimitedError } from '../common/errors';
import { BrokerMetrics } from '../metrics/broker-metrics';

export const DEVICE_LIMITS = ['device', 'terminal', 'global'];
export const OPERATOR_LIMITS = ['operator'];

/** Answers 429 problem+json with Retry-After, and counts the refusal. */
abstract class BrokerThrottlerGuard extends ThrottlerGuard {
  protected abstract readonly limits: string[];

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly metrics: BrokerMetrics,
  ) {
    super(options, storage, reflector);
  }

  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    this.throttlers = this.throttlers.filter((t) => this.limits.includes(t.name ?? ''));
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return await super.canActivate(context);
    } catch (err) {
      if (err instanceof BrokerError) throw err;
      // The counter store (Redis) failed: the limit cannot be checked, which is ours to answer (503), not a 500.
      throw new DependencyUnavailableError('Rate limiting is unavailable; retry later.', 2, { cause: err });
    }
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    this.metrics.rateLimitRejections.inc({ limit: detail.key.split(':')[0] ?? 'unknown' });
    throw new RateLimitedError('Rate limit exceeded; retry later.', Math.max(1, Math.ceil(detail.timeToBlockExpire || detail.timeToExpire)));
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    // Readable and shared by every instance (Redis storage): "<limit>:<tracker>".
    return `${name}:${tracker}`;
  }
}

/** Per device, per terminal and global limits on device routes; runs after DeviceAuthGuard. */
@Injectable()
export class DeviceRateLimitGuard extends BrokerThrottlerGuard {
  protected readonly limits = DEVICE_LIMITS;
}

/**
 * The operator limit, keyed by the operator's subject: OperatorAuthGuard runs it once the token
 * is verified, on every route it protects. Not a global guard matching URL prefixes, which an
 * encoded path (/v1/%61dmin/...) passed, and which ran before authentication, so every operator
 * behind one address shared one budget.
 */
@Injectable()
export class OperatorRateLimitGuard extends BrokerThrottlerGuard {
  protected readonly limits = OPERATOR_LIMITS;
}
