import { randomId } from './encoding.js';
import type { DeviceCredentials } from './enroll.js';
import { signDeviceToken } from './jwt.js';
import { importPrivateJwk, type DeviceKey, type KeyStore } from './keys.js';
import { joinUrl, sendWithRetries, systemClock, type Clock, type FetchLike, type RetryPolicy, type Transport } from './transport.js';

/** The broker's default DEVICE_JWT_AUDIENCE; enrollment tells the real one. */
export const DEFAULT_AUDIENCE = 'pos-session-broker';

export interface BrokerClientOptions {
  readonly brokerUrl: string;
  readonly deviceId: string;
  readonly keyId: string;
  readonly key: DeviceKey;
  /** Sent as the `sv` claim of every token. */
  readonly softwareVersion?: string;
  /** The broker's device audience: DeviceCredentials.audience from enroll() (default `pos-session-broker`). */
  readonly audience?: string;
  /** Deadline, per-attempt timeout and backoff of each call. */
  readonly retry?: RetryPolicy;
  /** Injected in tests: fetch, clock and random (jitter). */
  readonly fetch?: FetchLike;
  readonly clock?: Clock;
  readonly random?: () => number;
}

export interface SessionRequest {
  /** Optional when the device is bound to one terminal only. */
  readonly terminalNumber?: string;
  /** What the session is for, in the terminal provider's terms (Hyp: {command, validation, transactionType}; wallet: {walletId}...). */
  readonly scope?: Record<string, unknown>;
  /** One key per logical call, reused on every retry; a new one is made when absent. */
  readonly idempotencyKey?: string;
}

/** A gateway session, to hand to the payment page or terminal at once. Never cache, store or log sessionId. */
export interface Session {
  readonly sessionId: string;
  /** null: open until closed (closeSession). */
  readonly expiresAt: string | null;
  readonly expiresIn: number | null;
  readonly reusable: boolean;
  readonly provider: string;
  readonly terminalNumber: string;
  readonly scope: Record<string, unknown> | null;
  readonly requestId: string;
}

/**
 * The device side of the broker. Every attempt carries a freshly signed token (new jti, iat now,
 * exp within 60 s); retries (network errors, 429, 503) reuse the call's Idempotency-Key, so a
 * retried request never gets a second gateway session. The client keeps no session: what
 * createSession returns is the caller's, and only the caller's.
 */
export class BrokerClient {
  readonly deviceId: string;
  readonly keyId: string;
  readonly brokerUrl: string;
  readonly #key: DeviceKey;
  readonly #audience: string;
  readonly #softwareVersion: string | undefined;
  readonly #transport: Transport;

  constructor(options: BrokerClientOptions) {
    // The broker refuses any other `sv` (401): better to say so here, once, than on every call.
    if (options.softwareVersion !== undefined && !/^[\x21-\x7e]{1,64}$/.test(options.softwareVersion)) {
      throw new TypeError('softwareVersion must be 1 to 64 visible ASCII characters (no spaces).');
    }
    this.brokerUrl = options.brokerUrl;
    this.deviceId = options.deviceId;
    this.keyId = options.keyId;
    this.#key = options.key;
    this.#audience = options.audience ?? DEFAULT_AUDIENCE;
    this.#softwareVersion = options.softwareVersion;
    this.#transport = {
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      retry: options.retry ?? {},
    };
  }

  /** A client for what enroll() returned. */
  static fromCredentials(
    credentials: DeviceCredentials,
    key: DeviceKey,
    options: Omit<BrokerClientOptions, 'brokerUrl' | 'deviceId' | 'keyId' | 'key' | 'audience'> = {},
  ): BrokerClient {
    return new BrokerClient({
      ...options,
      brokerUrl: credentials.brokerUrl,
      deviceId: credentials.deviceId,
      keyId: credentials.keyId,
      audience: credentials.audience,
      key,
    });
  }

  /** A client for the device a KeyStore holds; undefined when it holds none (enroll first). */
  static async fromStore(
    store: KeyStore,
    options: Omit<BrokerClientOptions, 'brokerUrl' | 'deviceId' | 'keyId' | 'key' | 'audience'> = {},
  ): Promise<BrokerClient | undefined> {
    const stored = await store.load();
    if (!stored) return undefined;
    return BrokerClient.fromCredentials(stored, await importPrivateJwk(stored.privateJwk), options);
  }

  /** POST /v1/sessions. Throws BrokerProblemError (typed from the problem+json), or DeadlineExceededError. */
  async createSession(request: SessionRequest): Promise<Session> {
    const idempotencyKey = request.idempotencyKey ?? randomId();
    const body = JSON.stringify({
      ...(request.terminalNumber === undefined ? {} : { terminalNumber: request.terminalNumber }),
      ...(request.scope === undefined ? {} : { scope: request.scope }),
    });
    const res = await sendWithRetries(this.#transport, joinUrl(this.brokerUrl, '/v1/sessions'), async () => ({
      method: 'POST',
      headers: { ...(await this.#auth()), 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': idempotencyKey },
      body,
    }));
    return (await res.json()) as Session;
  }

  /** DELETE /v1/sessions/{sessionId}: closes an open-until-closed (wallet) session; closing twice is fine. */
  async closeSession(sessionId: string): Promise<void> {
    const res = await sendWithRetries(this.#transport, joinUrl(this.brokerUrl, `/v1/sessions/${encodeURIComponent(sessionId)}`), async () => ({
      method: 'DELETE',
      headers: await this.#auth(),
    }));
    await res.body?.cancel();
  }

  async #auth(): Promise<Record<string, string>> {
    const token = await signDeviceToken(this.#key, {
      deviceId: this.deviceId,
      keyId: this.keyId,
      audience: this.#audience,
      softwareVersion: this.#softwareVersion,
      now: this.#transport.clock.now(),
    });
    return { authorization: `Bearer ${token}` };
  }

  /** Keeps the key out of console.log / util.inspect / JSON.stringify of the client. */
  toJSON(): object {
    return { brokerUrl: this.brokerUrl, deviceId: this.deviceId, keyId: this.keyId };
  }
}
