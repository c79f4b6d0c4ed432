import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { GatewayTimeoutError } from '../../common/errors';

export interface BearerToken {
  readonly token: string;
  /** Lifetime in seconds, as the Identity Service stated it. */
  readonly expiresIn: number;
}

interface TokenRequest {
  readonly identityUrl: string;
  readonly apiKey: string;
}

/** At most this many API keys' tokens are held; the least recently used goes first. */
const MAX_TOKENS = 10_000;

/**
 * Payroc bearer tokens, one per API key (and Identity Service): cached until `marginMs` before they
 * expire, and fetched by one request at a time however many devices ask at once (lru-cache's
 * `fetchMethod` is the single flight). The fetch runs on its own clock, not on the first caller's
 * deadline, so a caller that gives up does not fail the others; each caller stops waiting at its
 * own deadline.
 */
export class PayrocTokenCache {
  private readonly tokens: LRUCache<string, string, TokenRequest>;

  constructor(marginMs: number, fetchToken: (identityUrl: string, apiKey: string) => Promise<BearerToken>, now: () => number = Date.now) {
    this.tokens = new LRUCache<string, string, TokenRequest>({
      max: MAX_TOKENS,
      perf: { now },
      // Expiry is checked against `now` on every read: a token is never handed out past its time.
      ttlResolution: 0,
      fetchMethod: async (_key, _stale, { context, options }) => {
        const { token, expiresIn } = await fetchToken(context.identityUrl, context.apiKey);
        const lifetimeMs = expiresIn * 1000;
        // A token shorter-lived than the margin is still used for half its life.
        options.ttl = Math.max(1, lifetimeMs > 2 * marginMs ? lifetimeMs - marginMs : lifetimeMs / 2);
        return token;
      },
    });
  }

  get(identityUrl: string, apiKey: string, signal: AbortSignal): Promise<string> {
    // No signal is passed to the cache: one caller's deadline must not abort the shared fetch.
    const fetched = this.tokens.fetch(cacheKey(identityUrl, apiKey), { context: { identityUrl, apiKey } }) as Promise<string>;
    return untilAborted(fetched, signal);
  }

  /**
   * The gateway refused `token` (expired or revoked early). Dropped only if it is still the cached
   * one: fifty requests refused with the old token must not throw away the new one.
   */
  invalidate(identityUrl: string, apiKey: string, token: string): void {
    const key = cacheKey(identityUrl, apiKey);
    if (this.tokens.peek(key) === token) this.tokens.delete(key);
  }
}

/** Hashed, so the cache's keys are not the API keys themselves. */
function cacheKey(identityUrl: string, apiKey: string): string {
  return createHash('sha256').update(identityUrl).update('\0').update(apiKey).digest('hex');
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  const cancelled = () => new GatewayTimeoutError('The gateway call was cancelled: the request deadline passed.');
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
