/**
 * The one error hierarchy of the service. Every error a request can end in is a BrokerError;
 * ProblemDetailsFilter turns it into RFC 7807 problem+json. `detail` is shown to the caller, so it
 * must never carry a secret, a sessionId or anything from the gateway beyond its result code.
 */
export abstract class BrokerError extends Error {
  abstract readonly status: number;
  /** Stable machine-readable code, also the last segment of the problem `type` URI. */
  abstract readonly code: string;
  abstract readonly title: string;
  /** Seconds, sent as Retry-After on 429/503. */
  retryAfterSeconds?: number;
  /** Gateway result code when the gateway answered. */
  gatewayResult?: string;

  constructor(
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = new.target.name;
  }
}

export class ValidationError extends BrokerError {
  readonly status = 400;
  readonly code = 'invalid-request';
  readonly title = 'Invalid request';
  constructor(
    detail: string,
    readonly errors: ReadonlyArray<{ path: string; message: string }> = [],
  ) {
    super(detail);
  }
}

export class PayloadTooLargeError extends BrokerError {
  readonly status = 413;
  readonly code = 'payload-too-large';
  readonly title = 'Payload too large';
}

export class AuthenticationError extends BrokerError {
  readonly status = 401;
  readonly code = 'unauthenticated';
  readonly title = 'Authentication failed';
  /** Why, for the audit trail only: the caller always gets the same detail. */
  constructor(readonly reason: string) {
    super('The credentials presented are missing, invalid or not accepted.');
  }
}

export class ForbiddenError extends BrokerError {
  readonly status = 403;
  readonly code = 'forbidden';
  readonly title = 'Forbidden';
  constructor(
    detail: string,
    readonly reason: string,
  ) {
    super(detail);
  }
}

export class NotFoundError extends BrokerError {
  readonly status = 404;
  readonly code = 'not-found';
  readonly title = 'Not found';
}

export class ConflictError extends BrokerError {
  readonly status = 409;
  readonly code = 'conflict';
  readonly title = 'Conflict';
}

export class RateLimitedError extends BrokerError {
  readonly status = 429;
  readonly code = 'rate-limited';
  readonly title = 'Too many requests';
  constructor(detail: string, retryAfterSeconds: number) {
    super(detail);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The audit store could not make an event durable: fail closed. */
export class AuditUnavailableError extends BrokerError {
  readonly status = 503;
  readonly code = 'audit-unavailable';
  readonly title = 'Audit store unavailable';
  constructor(options?: { cause?: unknown }) {
    super('The request could not be recorded and was not carried out. Retry later.', options);
    this.retryAfterSeconds = 5;
  }
}

export class DependencyUnavailableError extends BrokerError {
  readonly status = 503;
  readonly code = 'dependency-unavailable';
  readonly title = 'Service unavailable';
  constructor(detail: string, retryAfterSeconds = 5, options?: { cause?: unknown }) {
    super(detail, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Base of everything that goes wrong between the broker and a payment gateway. */
export abstract class GatewayError extends BrokerError {
  /** Worth another attempt inside the request deadline (transient, and safe to resend). */
  abstract readonly transient: boolean;
}

/** The gateway answered with a result code other than success. */
export class GatewayRejectedError extends GatewayError {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly transient: boolean;
  constructor(
    readonly resultCode: string,
    mapping: { status: number; code: string; title: string; transient: boolean; detail: string },
  ) {
    super(mapping.detail);
    this.status = mapping.status;
    this.code = mapping.code;
    this.title = mapping.title;
    this.transient = mapping.transient;
    this.gatewayResult = resultCode;
    if (mapping.status === 503) this.retryAfterSeconds = 2;
  }
}

/** Connection refused/reset, TLS failure, HTTP 5xx: the gateway could not be used. */
export class GatewayUnavailableError extends GatewayError {
  readonly status = 503;
  readonly code = 'gateway-unavailable';
  readonly title = 'Gateway unavailable';
  constructor(
    detail: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.retryAfterSeconds = 5;
  }
}

/** The gateway did not answer within the time allowed. */
export class GatewayTimeoutError extends GatewayError {
  readonly status = 504;
  readonly code = 'gateway-timeout';
  readonly title = 'Gateway timeout';
  readonly transient = false;
}

/** The gateway answered something that is not a valid response (HTML, empty, truncated, too large, DOCTYPE...). */
export class GatewayProtocolError extends GatewayError {
  readonly status = 502;
  readonly code = 'gateway-bad-response';
  readonly title = 'Bad gateway response';
  readonly transient = false;
}
