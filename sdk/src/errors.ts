/** RFC 7807 problem details as the broker sends them. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code?: string;
  readonly requestId?: string;
  readonly gatewayResult?: string;
  readonly errors?: ReadonlyArray<{ path: string; message: string }>;
}

/** Statuses worth another attempt with the same Idempotency-Key. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** Base of every error the SDK throws. */
export abstract class BrokerSdkError extends Error {
  /** Would the same request, sent again later, possibly succeed? */
  abstract readonly retryable: boolean;
}

/** The broker answered with a problem+json (or another non-2xx answer, described as one). */
export class BrokerProblemError extends BrokerSdkError implements Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string | undefined;
  readonly requestId: string | undefined;
  readonly gatewayResult: string | undefined;
  readonly errors: ReadonlyArray<{ path: string; message: string }>;
  readonly retryable: boolean;
  /** Seconds, from Retry-After. */
  readonly retryAfterSeconds: number | undefined;

  constructor(problem: Problem, retryAfterSeconds?: number) {
    super(`${problem.status} ${problem.title}: ${problem.detail}`);
    this.name = 'BrokerProblemError';
    this.type = problem.type;
    this.title = problem.title;
    this.status = problem.status;
    this.detail = problem.detail;
    this.code = problem.code;
    this.requestId = problem.requestId;
    this.gatewayResult = problem.gatewayResult;
    this.errors = problem.errors ?? [];
    this.retryable = RETRYABLE_STATUSES.has(problem.status);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The broker could not be reached (DNS, connection refused or reset, TLS), or the answer was cut off. */
export class BrokerUnreachableError extends BrokerSdkError {
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerUnreachableError';
  }
}

/** The call's deadline passed before an attempt succeeded; `lastError` says what the last attempt got. */
export class DeadlineExceededError extends BrokerSdkError {
  readonly retryable = false;
  constructor(
    readonly attempts: number,
    readonly lastError: BrokerSdkError | undefined,
  ) {
    super(`Gave up after ${attempts} attempt(s): the deadline passed${lastError ? ` (last: ${lastError.message})` : ''}.`);
    this.name = 'DeadlineExceededError';
  }
}

/** Reads a non-2xx answer into a BrokerProblemError; a body that is not a problem still gets one. */
export async function problemFrom(res: Response): Promise<BrokerProblemError> {
  let body: Partial<Problem> = {};
  try {
    const parsed: unknown = JSON.parse(await res.text());
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed;
  } catch {
    // Not JSON (a proxy's HTML error page): described from the status alone.
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const problem: Problem = {
    type: str(body.type) ?? 'about:blank',
    title: str(body.title) ?? (res.statusText || `HTTP ${res.status}`),
    status: res.status,
    detail: str(body.detail) ?? `The broker answered HTTP ${res.status}.`,
    code: str(body.code),
    requestId: str(body.requestId) ?? res.headers.get('x-request-id') ?? undefined,
    gatewayResult: str(body.gatewayResult),
    errors: Array.isArray(body.errors) ? body.errors : undefined,
  };
  return new BrokerProblemError(problem, retryAfterSeconds(res.headers.get('retry-after')));
}

/** Retry-After as seconds (delta-seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterSeconds(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
