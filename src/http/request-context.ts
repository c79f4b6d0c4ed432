import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * What the parts that handle one request tell each other and its log line, declared in one place
 * and carried on Fastify's request (a decoration, no AsyncLocalStorage on the hot path): who the
 * token claimed and who was authenticated, which terminal the request is about, the URL the log
 * line may show, and the request's deadline.
 */
export interface RequestContext {
  /** The device the token claimed (`sub`), known before it is verified: for the audit of a refusal. */
  claimedDeviceId?: string;
  /** The operator the token claimed, likewise. */
  claimedOperator?: string;
  /** The authenticated device (set by DeviceAuthenticator). */
  deviceId?: string;
  /** The terminal the request is about (set by the session route), for the log line. */
  terminalNumber?: string;
  /** The URL as the log line shows it: the route pattern with secret parameters blanked. */
  loggedUrl?: string;
  /** When the request's deadline falls (epoch ms), and whether it has already answered 503. */
  deadlineAt?: number;
  answeredByDeadline?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    requestContext: RequestContext | null;
  }
}

/** Declares the decoration (so every request object has the same shape). Call once, before routes. */
export function installRequestContext(fastify: FastifyInstance): void {
  fastify.decorateRequest('requestContext', null);
}

/** This request's context, created on first use. */
export function requestContext(request: FastifyRequest): RequestContext {
  return (request.requestContext ??= {});
}
