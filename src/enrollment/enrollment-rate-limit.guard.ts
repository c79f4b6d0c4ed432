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
import type { FastifyRequest } from 'fastify';
import { AuditTrail } from '../audit/audit-trail';
import { RateLimitedError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { auditOrigin } from '../http/audit-origin';
import { BrokerMetrics } from '../metrics/broker-metrics';

/**
 * Attempts to redeem a code per client IP (ENROLLMENT_RATE_LIMIT_PER_MINUTE), counted in the
 * throttler storage RateLimitsModule configures (Redis with REDIS_URL, so across instances).
 * With 65-bit codes guessing is hopeless anyway; the limit keeps a guesser from costing us more
 * than a trickle of audit events. A refused attempt is itself recorded.
 */
@Injectable()
export class EnrollmentRateLimitGuard extends ThrottlerGuard {
  private readonly perMinute: number;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly metrics: BrokerMetrics,
    private readonly audit: AuditTrail,
    config: AppConfig,
  ) {
    super(options, storage, reflector);
    this.perMinute = config.values.ENROLLMENT_RATE_LIMIT_PER_MINUTE;
  }

  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    this.throttlers = [{ name: 'enrollment', ttl: 60_000, limit: this.perMinute, getTracker: (req: { ip?: string }) => req.ip ?? 'unknown' }];
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    this.metrics.rateLimitRejections.inc({ limit: 'enrollment' });
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    await this.audit.record({ action: 'enrollment.refused', outcome: 'denied', reason: 'rate-limited', actorType: 'anonymous', ...auditOrigin(req) });
    throw new RateLimitedError('Too many enrollment attempts; retry later.', Math.max(1, Math.ceil(detail.timeToBlockExpire || detail.timeToExpire)));
  }
}
