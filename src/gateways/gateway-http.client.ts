import type { Dispatcher, Pool } from 'undici';
import { createOutboundPool, discardBody, readCapped, transportFailure } from '../common/outbound-http';
import { GatewayError, GatewayProtocolError, GatewayTimeoutError, GatewayUnavailableError } from '../common/errors';

export interface GatewayHttpClientOptions {
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly connectionsPerOrigin: number;
  /** PEM contents of the CA(s) to trust instead of the system store (Node's `ca` semantics). */
  readonly ca?: string;
}

export interface GatewayHttpRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** From gatewayUrl(): checked, credential-free. */
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Aborts the call (the request deadline). */
  readonly signal: AbortSignal;
  /**
   * false when the gateway may have acted on a request it then answered with a 5xx and resending
   * could act twice (no idempotency key): the 5xx is then not transient. Default true.
   */
  readonly retrySafe?: boolean;
}

export interface GatewayHttpResponse {
  /** 1xx-4xx: a 5xx never gets here (it is a GatewayUnavailableError). */
  readonly status: number;
  readonly contentType: string | undefined;
  /** The whole body, UTF-8, at most maxResponseBytes. */
  readonly text: string;
}

/**
 * The only way the broker talks HTTP to a payment gateway, whichever provider: one undici Pool per
 * origin, connect/headers/body timeouts, a response size cap, the caller's deadline. Every failure
 * leaves as a GatewayError with a fixed detail: requests carry merchant secrets, so nothing derived
 * from the request is quoted. An HTTP 5xx is a transient GatewayUnavailableError; any other status
 * is returned with its body for the provider to judge.
 */
export class GatewayHttpClient {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  constructor(protected readonly options: GatewayHttpClientOptions) {}

  async send(req: GatewayHttpRequest): Promise<GatewayHttpResponse> {
    if (this.closed) throw new GatewayUnavailableError('The gateway client is shutting down.', false);
    const { signal } = req;
    if (signal.aborted) throw new GatewayTimeoutError('The gateway call was cancelled: the request deadline passed.');

    let response: Dispatcher.ResponseData | undefined;
    try {
      response = await this.pool(req.url.origin).request({
        method: req.method,
        path: `${req.url.pathname}${req.url.search}`,
        headers: req.headers,
        body: req.body,
        signal,
      });
      const status = response.statusCode;
      if (status >= 500) throw new GatewayUnavailableError(`The gateway answered HTTP ${status}.`, req.retrySafe ?? true);
      const raw = await readCapped(response.body, this.options.maxResponseBytes, () => new GatewayProtocolError('The gateway answer exceeds the size limit.'));
      const text = new TextDecoder('utf-8').decode(raw);
      const type = response.headers['content-type'];
      return { status, contentType: Array.isArray(type) ? type[0] : type, text };
    } catch (err) {
      if (response) discardBody(response.body);
      throw toGatewayError(err, signal);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      const o = this.options;
      pool = createOutboundPool(origin, {
        connections: o.connectionsPerOrigin,
        connectTimeoutMs: o.connectTimeoutMs,
        headersTimeoutMs: o.headersTimeoutMs,
        bodyTimeoutMs: o.bodyTimeoutMs,
        maxResponseBytes: o.maxResponseBytes,
        ca: o.ca,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }
}

/**
 * A terminal's endpoint URL, checked, with `path` appended to its path and `query` added. Secrets
 * belong in headers or bodies, never in a URL that ends up in logs.
 */
export function gatewayUrl(endpointUrl: string, path = '', query?: Readonly<Record<string, string>>): URL {
  let url: URL | undefined;
  try {
    url = new URL(endpointUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
    throw new GatewayUnavailableError('The gateway endpoint of this terminal is misconfigured.', false);
  }
  if (path) url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  if (query) for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url;
}

function toGatewayError(err: unknown, signal: AbortSignal): GatewayError {
  if (err instanceof GatewayError) return err;
  if (signal.aborted) {
    return new GatewayTimeoutError('The gateway call was cancelled: the request deadline passed.', { cause: err });
  }
  switch (transportFailure(err)) {
    case 'timeout':
      return new GatewayTimeoutError('The gateway did not answer in time.', { cause: err });
    case 'never-sent':
      // The connection never carried the request, so resending cannot double anything.
      return new GatewayUnavailableError('The gateway could not be reached.', true, { cause: err });
    case 'too-large':
      return new GatewayProtocolError('The gateway answer exceeds the size limit.', { cause: err });
    case 'tls':
      return new GatewayUnavailableError('The TLS connection to the gateway failed.', false, { cause: err });
    default:
      // Reset or closed mid-exchange: the gateway may have acted on the request, so not transient.
      return new GatewayUnavailableError('The connection to the gateway failed.', false, { cause: err });
  }
}
