import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { request } from 'undici';
import { AuthenticationError, DependencyUnavailableError } from '../common/errors';

/** A JWKS document larger than this is not a key set (and is not read to the end). */
const MAX_JWKS_BYTES = 512 * 1024;

export interface JwksOptions {
  uri: string;
  /** Keys are refreshed after this age, but still served when the identity provider cannot be reached. */
  maxAgeMs: number;
  /** At most one fetch per interval, whoever triggers it (an unknown `kid`, an old cache). */
  refetchIntervalMs: number;
  timeoutMs: number;
  /** Tests and callers may swap the clock. */
  now?: () => number;
}

/**
 * The identity provider's signing keys, fetched from its JWKS endpoint. Written for hostile
 * traffic, which jwks-rsa was not: there a flood of tokens with random `kid`s used up the shared
 * refetch budget (10 a minute) and then refused a real operator whose key had just been rotated in.
 * Here:
 * - one fetch at a time (single-flight: concurrent callers wait for the same fetch);
 * - at most one fetch per `refetchIntervalMs`, shared by every caller, so junk `kid`s cost the
 *   identity provider one request per interval however many arrive, and the next interval's fetch
 *   still finds a key published meanwhile (a junk token never blocks others beyond the interval);
 * - keys past `maxAgeMs` are refreshed, but kept and served when the endpoint cannot be reached
 *   (an IdP outage must not lock every operator out);
 * - an unknown `kid` is the caller's problem (401); an unknown `kid` while the endpoint is failing
 *   is ours (503: we cannot tell).
 */
export class JwksKeySource {
  private readonly logger = new Logger('OperatorJwks');
  private readonly now: () => number;
  private keys = new Map<string, KeyObject>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private lastAttemptFailed = false;
  private inFlight?: Promise<void>;
  /** Fetches made (successful or not): for tests and logs. */
  fetches = 0;

  constructor(private readonly options: JwksOptions) {
    this.now = options.now ?? Date.now;
  }

  async key(kid: string | undefined): Promise<KeyObject> {
    const cached = this.lookup(kid);
    const fresh = this.now() - this.fetchedAt < this.options.maxAgeMs;
    if (cached && fresh) return cached;
    if (this.inFlight || this.now() - this.attemptedAt >= this.options.refetchIntervalMs) {
      try {
        await this.refresh();
      } catch (err) {
        const stale = this.lookup(kid);
        if (stale) return stale;
        throw new DependencyUnavailableError('The identity provider keys are unavailable; retry later.', 5, { cause: err });
      }
      const found = this.lookup(kid);
      if (found) return found;
      throw new AuthenticationError('unknown-kid');
    }
    // No fetch allowed before the interval is over: what we have is the answer.
    if (cached) return cached;
    if (this.lastAttemptFailed) throw new DependencyUnavailableError('The identity provider keys are unavailable; retry later.', 5);
    throw new AuthenticationError('unknown-kid');
  }

  /** A token without `kid` names the only key, if there is exactly one. */
  private lookup(kid: string | undefined): KeyObject | undefined {
    if (kid !== undefined) return this.keys.get(kid);
    return this.keys.size === 1 ? [...this.keys.values()][0] : undefined;
  }

  private refresh(): Promise<void> {
    this.inFlight ??= this.load().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async load(): Promise<void> {
    this.attemptedAt = this.now();
    this.fetches++;
    try {
      const keys = await this.fetchKeys();
      this.keys = keys;
      this.fetchedAt = this.now();
      this.lastAttemptFailed = false;
    } catch (err) {
      this.lastAttemptFailed = true;
      this.logger.warn(`JWKS fetch failed (${(err as Error).message}); ${this.keys.size} cached key(s) kept`);
      throw err;
    }
  }

  private async fetchKeys(): Promise<Map<string, KeyObject>> {
    const res = await request(this.options.uri, {
      method: 'GET',
      headers: { accept: 'application/json' },
      // undici follows no redirects: the keys come from the configured URL only.
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`HTTP ${res.statusCode}`);
    }
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > MAX_JWKS_BYTES) {
      await res.body.dump();
      throw new Error('JWKS too large');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_JWKS_BYTES) {
        res.body.destroy();
        throw new Error('JWKS too large');
      }
      chunks.push(chunk as Buffer);
    }
    const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { keys?: unknown };
    if (!Array.isArray(doc.keys)) throw new Error('not a JWK Set');
    const keys = new Map<string, KeyObject>();
    for (const jwk of doc.keys as Array<JsonWebKey & { kid?: unknown; use?: unknown }>) {
      if (typeof jwk !== 'object' || jwk === null || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
      try {
        // Only the public half, whatever the document carries.
        const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
        keys.set(typeof jwk.kid === 'string' ? jwk.kid : '', createPublicKey({ key: pub, format: 'jwk' }));
      } catch {
        /* a key type node cannot read: not one we could verify with anyway */
      }
    }
    if (keys.size === 0) throw new Error('no usable signing keys');
    return keys;
  }
}
