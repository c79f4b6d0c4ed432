import { ZodValidationException } from 'nestjs-zod';
import { ZodError } from 'zod';
import { BrokerError, ValidationError } from '../common/errors';
import { validationErrorOf } from '../common/zod-issues';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://pos-session-broker.dev/problems/';

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId?: string;
  gatewayResult?: string;
  errors?: ReadonlyArray<{ path: string; message: string }>;
}

export interface ProblemResponse {
  body: ProblemDetails;
  retryAfterSeconds?: number;
}

const GENERIC: Record<number, { code: string; title: string; detail: string }> = {
  400: { code: 'invalid-request', title: 'Invalid request', detail: 'The request is malformed.' },
  401: { code: 'unauthenticated', title: 'Authentication failed', detail: 'The credentials presented are missing, invalid or not accepted.' },
  403: { code: 'forbidden', title: 'Forbidden', detail: 'The request is not allowed.' },
  404: { code: 'not-found', title: 'Not found', detail: 'No such resource.' },
  405: { code: 'method-not-allowed', title: 'Method not allowed', detail: 'The method is not allowed on this resource.' },
  406: { code: 'not-acceptable', title: 'Not acceptable', detail: 'The requested media type is not available.' },
  413: { code: 'payload-too-large', title: 'Payload too large', detail: 'The request body exceeds the allowed size.' },
  415: { code: 'unsupported-media-type', title: 'Unsupported media type', detail: 'Send the body as application/json.' },
  429: { code: 'rate-limited', title: 'Too many requests', detail: 'Too many requests; retry later.' },
  500: { code: 'internal-error', title: 'Internal error', detail: 'The request failed unexpectedly.' },
  503: { code: 'unavailable', title: 'Service unavailable', detail: 'The service is unavailable; retry later.' },
};

/** Builds the RFC 7807 body for any error; only BrokerError details are trusted to be shown. */
export function toProblem(error: unknown, requestId: string | undefined): ProblemResponse {
  // nestjs-zod's pipe validated a body, query or path against its DTO: the same 400 as any other.
  if (error instanceof ZodValidationException) {
    const zodError = error.getZodError();
    if (zodError instanceof ZodError) error = validationErrorOf(zodError);
  }
  if (error instanceof BrokerError) {
    const body: ProblemDetails = {
      type: TYPE_BASE + error.code,
      title: error.title,
      status: error.status,
      detail: error.detail,
      code: error.code,
      requestId,
    };
    if (error.gatewayResult !== undefined) body.gatewayResult = error.gatewayResult;
    if (error instanceof ValidationError && error.errors.length > 0) body.errors = error.errors;
    return { body, retryAfterSeconds: error.retryAfterSeconds };
  }
  const status = httpStatusOf(error);
  const generic = GENERIC[status] ?? (status >= 500 ? GENERIC[500] : GENERIC[400]);
  const detail = status === 400 && isJsonSyntaxError(error) ? 'The request body is not valid JSON.' : generic.detail;
  return {
    body: { type: TYPE_BASE + generic.code, title: generic.title, status, detail, code: generic.code, requestId },
  };
}

/** Status of Nest HttpExceptions and Fastify errors (body parser, size limit); 500 otherwise. */
export function httpStatusOf(error: unknown): number {
  if (typeof error !== 'object' || error === null) return 500;
  const e = error as { getStatus?: () => number; statusCode?: unknown; status?: unknown };
  const status = typeof e.getStatus === 'function' ? e.getStatus() : Number(e.statusCode ?? e.status);
  return Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
}

function isJsonSyntaxError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return error instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY';
}
