import { createHash } from 'node:crypto';
import { GatewayTimeoutError } from '../../common/errors';

export interface BearerToken {
  readonly token: string;
  /** Lifetime in seconds, as the Identity Service stated it. */
  readonly expiresIn: number;
}

interface Cached {
  readonly token: string;
  /** Epoch ms after which the token is not handed out any more. */
  readonly refreshAt: number;
}

/**
 * Payroc bearer tokens, one per API key (and Identity Service): cached until `marginMs` before they
 * expire, and fetched by one request at a time however many devices ask at once (single flight).
 * The fetch runs on its own clock, not on the first caller's deadline, so a caller that gives up
 * does not fail the others; each caller stops waiting at its own deadline.
 */
export class PayrocTokenCache {
  private readonly tokens = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(
    private readonly marginMs: number,
    private readonly fetchToken: (identityUrl: string, apiKey: string) => Promise<BearerToken>,
    private readonly now: () => number = Date.now,
  ) {}

  get(identityUrl: string, apiKey: string, signal: AbortSignal): Promise<string> {
    const key = cacheKey(identityUrl, apiKey);
    const cached = this.tokens.get(key);
    if (cached && this.now() < cached.refreshAt) return Promise.resolve(cached.token);
    let flight = this.inflight.get(key);
    if (!flight) {
      flight = this.fetchToken(identityUrl, apiKey)
        .then(({ token, expiresIn }) => {
          const lifetimeMs = expiresIn * 1000;
          // A token shorter-lived than the margin is still used for half its life.
          const usable = lifetimeMs > 2 * this.marginMs ? lifetimeMs - this.marginMs : lifetimeMs / 2;
          this.store(key, { token, refreshAt: this.now() + usable });
          return token;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, flight);
    }
    return untilAborted(flight, signal);
  }

  /**
   * The gateway refused `token` (expired or revoked early). Dropped only if it is still the cached
   * one: fifty requests refused with the old token must not throw away the new one.
   */
  invalidate(identityUrl: string, apiKey: string, token: string): void {
    const key = cacheKey(identityUrl, apiKey);
    if (this.tokens.get(key)?.token === token) this.tokens.delete(key);
  }

  private store(key: string, entry: Cached): void {
    if (this.tokens.size >= 10_000) {
      const now = this.now();
      for (const [k, v] of this.tokens) if (now >= v.refreshAt) this.tokens.delete(k);
      if (this.tokens.size >= 10_000) this.tokens.clear();
    }
    this.tokens.set(key, entry);
  }
}

/** Hashed, so the map's keys are not the API keys themselves. */
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
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
