import { Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { DependencyUnavailableError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { sendProblem } from '../http/send-problem';
import { requestContext } from '../http/request-context';

/**
 * After the deadline, how long the request's own work still has to end it with its precise answer
 * (the issuer's 504 and its `session.failed` event) before the deadline answers 503 for it.
 */
export const DEADLINE_GRACE_MS = 250;

/** The device routes bounded by REQUEST_DEADLINE_MS as a whole. */
const BOUNDED_ROUTE = /^\/v1\/sessions(\/|$)/;

/**
 * One deadline for the whole of a device request, from its arrival: authentication (device
 * lookup, jti claim), rate limits, idempotency records, the audit trail, the gateway. The work
 * inside reads the deadline (deadlineOf) to bound its own calls; if it is still not done
 * DEADLINE_GRACE_MS past it, because a dependency hangs (a silent network drop leaves Postgres or
 * Redis calls unanswered, not failed), the caller gets a 503 problem+json and the work's later
 * result is dropped (answeredByDeadline), so a sessionId can never go out after that answer.
 *
 * Set up as a route hook when the routes are registered; the Fastify instance is not otherwise
 * reachable from a module, and a Nest interceptor would start after the guards.
 */
@Injectable()
export class RequestDeadline {
  private readonly logger = new Logger('RequestDeadline');
  private readonly deadlineMs: number;

  constructor(adapterHost: HttpAdapterHost, config: AppConfig) {
    this.deadlineMs = config.values.REQUEST_DEADLINE_MS;
    const fastify = adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    // Providers are created before Nest registers the routes, so this sees the session routes.
    fastify?.addHook('onRoute', (route: RouteOptions) => {
      if (!BOUNDED_ROUTE.test(route.url)) return;
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [this.start, ...existing] as RouteOptions['onRequest'];
    });
  }

  private readonly start = (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const context = requestContext(request);
    context.deadlineAt = Date.now() + this.deadlineMs;
    const timer = setTimeout(() => {
      if (reply.sent) return;
      context.answeredByDeadline = true;
      const error = new DependencyUnavailableError(
        `The request could not be completed within ${this.deadlineMs} ms: a dependency is not answering. Retry later.`,
        2,
      );
      sendProblem(error, request, reply, this.logger);
    }, this.deadlineMs + DEADLINE_GRACE_MS);
    reply.raw.once('close', () => clearTimeout(timer));
    done();
  };
}

/** When the request's deadline falls (epoch ms); a request outside the bounded routes gets `fallbackMs` from now. */
export function deadlineOf(req: FastifyRequest, fallbackMs: number): number {
  return requestContext(req).deadlineAt ?? Date.now() + fallbackMs;
}

/** Whether the deadline already answered this request (its result must then be dropped, not sent). */
export function answeredByDeadline(req: FastifyRequest): boolean {
  return requestContext(req).answeredByDeadline === true;
}

/**
 * The request deadline already answered 503 (a dependency hung): the late result must not be sent
 * a second time. Thrown, it ends in the problem filter, which sends nothing on a sent reply.
 */
export function lateResult(): DependencyUnavailableError {
  return new DependencyUnavailableError('The request deadline passed before the answer was ready.');
}
