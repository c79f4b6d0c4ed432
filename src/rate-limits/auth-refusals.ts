import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuditTrail } from '../audit/audit-trail';
import type { AuditActorType } from '../audit/audit-event';
import { RateLimitedError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { DatabaseConnection } from '../database/database-connection';
import { auditOrigin } from '../http/audit-origin';
import { BrokerMetrics } from '../metrics/broker-metrics';
import { REDIS, type RedisClient } from '../redis/redis.module';

const WINDOW_MS = 60_000;
/** The audit reason of a request refused by the per-IP limit, before any authentication. */
export const AUTH_FAILURE_LIMIT_REASON = 'auth-failure-limit';

export interface Refusal {
  actorType: AuditActorType;
  reason: string;
  /** The claimed (unverified) device or operator, if the token named one. */
  actorId?: string;
}

interface Pending {
  count: number;
  firstAt: Date;
  lastAt: Date;
  requestId: string;
  userAgent?: string;
  actorIds: Set<string | undefined>;
  routes: Set<string>;
}

/**
 * Refused authentication, device and operator alike, under a flood:
 *
 * - a limit per client address (AUTH_FAILURE_LIMIT_PER_MINUTE refusals a minute, counted in Redis
 *   when REDIS_URL is set so the fleet shares it): past it, every request from that address is
 *   answered 429 before any token is looked at. Only refusals count, so a busy POS that
 *   authenticates never meets it. The check itself is a map look-up (no I/O on the hot path): each
 *   instance learns that an address is over the limit from the shared count its own refusals return.
 * - the audit trail gets every refusal, aggregated: the first of an (address, actor type, reason)
 *   in an interval (AUTH_REFUSAL_AUDIT_INTERVAL_MS) is written at once, as before; the rest of the
 *   interval become one event with `details.count`, `details.firstAt` and `details.lastAt`. So the
 *   append-only table grows by at most two rows per address and reason per interval, whatever the
 *   flood, while the counts still add up to the refusals (429s included). Pending counts are
 *   written when the interval ends and at shutdown (before the database closes), and kept for the
 *   next try if the write fails. An interval of 0 writes every refusal on its own.
 */
@Injectable()
export class AuthRefusals {
  private readonly logger = new Logger('AuthRefusals');
  private readonly limit: number;
  private readonly intervalMs: number;
  /** Address → end of the window in which it went over the limit. */
  private readonly blockedUntil = new Map<string, number>();
  /** In-process counts (no Redis): address → refusals in the current window. */
  private readonly counts = new Map<string, number>();
  private countsWindow = 0;
  /** Open audit intervals: key → refusals after the first one, not yet written. */
  private readonly open = new Map<string, { origin: Refusal & { clientIp: string }; pending?: Pending; timer: NodeJS.Timeout }>();

  constructor(
    private readonly audit: AuditTrail,
    private readonly metrics: BrokerMetrics,
    @Inject(REDIS) private readonly redis: RedisClient,
    config: AppConfig,
    db: DatabaseConnection,
  ) {
    this.limit = config.values.AUTH_FAILURE_LIMIT_PER_MINUTE;
    this.intervalMs = config.values.AUTH_REFUSAL_AUDIT_INTERVAL_MS;
    // Registered after the audit writer's own drain (AuditTrail is built first), run before the pool closes.
    db.onBeforeClose(() => this.flushAll());
  }

  /** Before authentication: 429 (and an audited refusal) when this address is over its limit. */
  async checkBefore(req: FastifyRequest, actorType: AuditActorType): Promise<void> {
    const client = limitKeyOf(req.ip);
    const until = this.blockedUntil.get(client);
    if (until === undefined) return;
    const now = Date.now();
    if (until <= now) {
      this.blockedUntil.delete(client);
      return;
    }
    this.metrics.rateLimitRejections.inc({ limit: 'auth-failure' });
    await this.record(req, { actorType, reason: AUTH_FAILURE_LIMIT_REASON });
    throw new RateLimitedError('Too many refused authentications from this address; retry later.', Math.max(1, Math.ceil((until - now) / 1000)));
  }

  /** After a refused authentication: counts it against the address and audits it. */
  async refused(req: FastifyRequest, refusal: Refusal): Promise<void> {
    await Promise.all([this.count(limitKeyOf(req.ip)), this.record(req, refusal)]);
  }

  private async count(ip: string): Promise<void> {
    const now = Date.now();
    const window = Math.floor(now / WINDOW_MS);
    const windowEnd = (window + 1) * WINDOW_MS;
    let hits: number;
    if (this.redis) {
      try {
        const key = `auth-failure:${ip}:${window}`;
        const [[incrErr, value]] = (await this.redis
          .multi()
          .incr(key)
          .pexpire(key, WINDOW_MS * 2)
          .exec()) ?? [[new Error('aborted'), 0]];
        if (incrErr) throw incrErr;
        hits = Number(value);
      } catch (err) {
        // The refusal stands either way (401); only the limit cannot be counted just now.
        this.logger.warn(`auth failure count unavailable: ${(err as Error).message}`);
        return;
      }
    } else {
      if (window !== this.countsWindow) {
        this.counts.clear();
        this.countsWindow = window;
      }
      hits = (this.counts.get(ip) ?? 0) + 1;
      this.counts.set(ip, hits);
    }
    if (hits >= this.limit) {
      if (this.blockedUntil.size > 100_000) this.sweepBlocked(now);
      this.blockedUntil.set(ip, windowEnd);
    }
  }

  private sweepBlocked(now: number): void {
    for (const [ip, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(ip);
  }

  private async record(req: FastifyRequest, refusal: Refusal): Promise<void> {
    const origin = auditOrigin(req);
    const route = req.routeOptions.url ?? 'unknown';
    const now = new Date();
    const first = {
      ...origin,
      action: 'auth.refused',
      outcome: 'denied' as const,
      reason: refusal.reason,
      actorType: refusal.actorType,
      actorId: refusal.actorId,
    };
    if (this.intervalMs === 0) {
      await this.audit.record({ ...first, details: { route, method: req.method, count: 1, firstAt: now.toISOString(), lastAt: now.toISOString() } });
      return;
    }
    const clientIp = origin.clientIp ?? 'unknown';
    const key = `${refusal.actorType}|${clientIp}|${refusal.reason}`;
    const bucket = this.open.get(key);
    if (!bucket) {
      const timer = setTimeout(() => void this.close(key), this.intervalMs);
      timer.unref();
      this.open.set(key, { origin: { ...refusal, clientIp }, timer });
      // The first of the interval, at once and durably, as every refusal was before aggregation.
      await this.audit.record({ ...first, details: { route, method: req.method, count: 1, firstAt: now.toISOString(), lastAt: now.toISOString() } });
      return;
    }
    const p = (bucket.pending ??= {
      count: 0,
      firstAt: now,
      lastAt: now,
      requestId: origin.requestId,
      userAgent: origin.userAgent,
      actorIds: new Set(),
      routes: new Set(),
    });
    p.count++;
    p.lastAt = now;
    if (p.actorIds.size <= 1) p.actorIds.add(refusal.actorId);
    if (p.routes.size < 10) p.routes.add(`${req.method} ${route}`);
  }

  /** End of an interval: the aggregate, if any refusal came after the first. Kept on failure. */
  private async close(key: string): Promise<void> {
    const bucket = this.open.get(key);
    if (!bucket) return;
    const p = bucket.pending;
    if (!p) {
      this.open.delete(key);
      return;
    }
    bucket.pending = undefined;
    try {
      await this.writeAggregate(bucket.origin, p);
      this.open.delete(key);
    } catch (err) {
      // Put the counts back (merged with what came meanwhile) and try again next interval.
      this.logger.error(`aggregated auth refusals not written (${p.count}), retrying: ${(err as Error).message}`);
      const now = bucket.pending as Pending | undefined;
      bucket.pending = now ? { ...p, count: p.count + now.count, lastAt: now.lastAt } : p;
      bucket.timer = setTimeout(() => void this.close(key), this.intervalMs);
      bucket.timer.unref();
    }
  }

  private writeAggregate(origin: Refusal & { clientIp: string }, p: Pending): Promise<void> {
    const actorIds = [...p.actorIds];
    return this.audit.record({
      action: 'auth.refused',
      outcome: 'denied',
      reason: origin.reason,
      actorType: origin.actorType,
      actorId: actorIds.length === 1 ? actorIds[0] : undefined,
      requestId: p.requestId,
      clientIp: origin.clientIp,
      userAgent: p.userAgent,
      occurredAt: p.lastAt,
      details: { aggregated: true, count: p.count, firstAt: p.firstAt.toISOString(), lastAt: p.lastAt.toISOString(), routes: [...p.routes] },
    });
  }

  /** Shutdown: every pending count is written before the database closes. */
  async flushAll(): Promise<void> {
    const keys = [...this.open.keys()];
    for (const key of keys) clearTimeout(this.open.get(key)!.timer);
    await Promise.all(keys.map((key) => this.close(key)));
    for (const bucket of this.open.values()) clearTimeout(bucket.timer);
  }
}

/**
 * Whom the limit counts: an IPv4 address, or an IPv6 client's /64 (one host usually holds a whole
 * /64 and could otherwise take a fresh address for every request). IPv4-mapped addresses count as IPv4.
 */
export function limitKeyOf(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(':')) return ip;
  const [head, tail] = ip.split('%')[0].split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}
