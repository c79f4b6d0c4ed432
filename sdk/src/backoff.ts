/**
 * Capped exponential backoff with full jitter (a uniformly random wait between 0 and
 * min(cap, base * 2^attempt)), so that devices retrying after the same outage spread out
 * instead of arriving together. A Retry-After from the broker is a floor.
 */
export interface BackoffOptions {
  /** First cap, ms (default 200). */
  readonly baseDelayMs?: number;
  /** Largest wait, ms (default 5,000). */
  readonly maxDelayMs?: number;
}

/** `attempt` counts from 0 (the wait after the first failed attempt); `random` returns [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random, retryAfterMs?: number): number {
  const base = options.baseDelayMs ?? 200;
  const cap = options.maxDelayMs ?? 5_000;
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}
