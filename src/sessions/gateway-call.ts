import { ExponentialBackoff, handleWhen, retry, type RetryPolicy } from 'cockatiel';
import { GatewayError, GatewayTimeoutError } from '../common/errors';

/**
 * Retries only what is transient (Hyp 457, connection refused before anything was sent, HTTP
 * 5xx), with jittered exponential backoff, all inside the request's one deadline.
 */
export function gatewayRetryPolicy(maxAttempts: number, baseDelayMs: number): RetryPolicy {
  return retry(
    handleWhen((err) => err instanceof GatewayError && err.transient),
    {
      maxAttempts: Math.max(0, maxAttempts - 1),
      backoff: new ExponentialBackoff({ initialDelay: baseDelayMs, maxDelay: baseDelayMs * 10 }),
    },
  );
}

/** What the device sees when the deadline ran out, whatever was in flight at that moment. */
export function deadlineExceeded(deadlineMs: number, cause: unknown): GatewayTimeoutError {
  return new GatewayTimeoutError(`The gateway did not answer within ${deadlineMs} ms.`, { cause });
}
