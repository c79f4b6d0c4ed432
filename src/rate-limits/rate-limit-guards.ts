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
import { RateLimitedError } from '../common/errors';
import { BrokerMetrics } from '../metrics/broker-metrics';

export const DEVICE_LIMITS = ['device', 'terminal', 'global'];
export const OPERATOR_LIMITS = ['operator'];
const OPERATOR_PREFIXES = ['/v1/admin', '/v1/audit'];

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

/** The operator limit on admin and audit routes (applied globally, keyed by operator or IP). */
@Injectable()
export class OperatorRateLimitGuard extends BrokerThrottlerGuard {
  protected readonly limits = OPERATOR_LIMITS;

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    const url: string = context.switchToHttp().getRequest<{ url?: string }>().url ?? '';
    return !OPERATOR_PREFIXES.some((p) => url.startsWith(p));
  }
}
