import { backoffDelay, type BackoffOptions } from './backoff.js';
import { BrokerProblemError, BrokerSdkError, BrokerUnreachableError, DeadlineExceededError, problemFrom } from './errors.js';

export type FetchLike = (input: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<Response>;

/** Time, injectable so that tests run retries without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface RetryPolicy extends BackoffOptions {
  /** How long one logical call may take, all attempts and waits included (ms, default 15,000). */
  readonly deadlineMs?: number;
  /** How long one attempt may take (ms, default 10,000, never past the deadline). */
  readonly attemptTimeoutMs?: number;
}

export interface Transport {
  readonly fetch: FetchLike;
  readonly clock: Clock;
  readonly random: () => number;
  readonly retry: RetryPolicy;
}

/**
 * Sends one logical request, building each attempt afresh (`build` signs a new token each time)
 * and retrying network failures, 429 and 503 until the deadline. Returns the successful Response.
 */
export async function sendWithRetries(
  t: Transport,
  url: string,
  build: () => Promise<{ method: string; headers: Record<string, string>; body?: string }>,
): Promise<Response> {
  const deadline = t.clock.now() + (t.retry.deadlineMs ?? 15_000);
  let lastError: BrokerSdkError | undefined;
  for (let attempt = 0; ; attempt++) {
    const remaining = deadline - t.clock.now();
    if (remaining <= 0) throw new DeadlineExceededError(attempt, lastError);
    const error = await attemptOnce(t, url, await build(), Math.min(remaining, t.retry.attemptTimeoutMs ?? 10_000));
    if (!(error instanceof BrokerSdkError)) return error;
    if (!error.retryable) throw error;
    lastError = error;
    const retryAfterMs = error instanceof BrokerProblemError && error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1000 : undefined;
    const wait = backoffDelay(attempt, t.retry, t.random, retryAfterMs);
    // Waiting past the deadline only to give up then helps nobody: give up now, with the reason.
    if (t.clock.now() + wait >= deadline) throw new DeadlineExceededError(attempt + 1, lastError);
    await t.clock.sleep(wait);
  }
}

async function attemptOnce(
  t: Transport,
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
  timeoutMs: number,
): Promise<Response | BrokerSdkError> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await t.fetch(url, { ...init, signal: abort.signal });
    if (res.ok) return res;
    return await problemFrom(res);
  } catch (err) {
    // fetch rejects with a TypeError for network failures and an AbortError for our timeout.
    const why = abort.signal.aborted ? `no answer within ${timeoutMs} ms` : 'network error';
    return new BrokerUnreachableError(`The broker could not be reached (${why}).`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}
