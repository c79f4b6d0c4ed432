import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import {
  GatewayError,
  GatewayProtocolError,
  GatewayTimeoutError,
  GatewayUnavailableError,
} from '../common/errors';

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

/** Failures where the connection never carried the request, so resending cannot double anything. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

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
      const text = await readText(response.body, this.options.maxResponseBytes);
      const type = response.headers['content-type'];
      return { status, contentType: Array.isArray(type) ? type[0] : type, text };
    } catch (err) {
      if (response) discard(response.body);
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
      pool = new Pool(origin, {
        connections: o.connectionsPerOrigin,
        connect: { timeout: o.connectTimeoutMs, rejectUnauthorized: true, ...(o.ca ? { ca: o.ca } : {}) },
        headersTimeout: o.headersTimeoutMs,
        bodyTimeout: o.bodyTimeoutMs,
        maxResponseSize: o.maxResponseBytes,
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

/** The JSON object in a response body, or undefined when it is not one. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** undici enforces maxResponseSize too; counting here keeps the cap independent of its version. */
async function readText(body: AsyncIterable<Buffer>, cap: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > cap) throw new GatewayProtocolError('The gateway answer exceeds the size limit.');
    chunks.push(chunk);
  }
  return new TextDecoder('utf-8').decode(Buffer.concat(chunks, size));
}

/** An unread or half-read body pins its socket. Destroying an unfinished body makes it emit an error nobody awaits. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy-eyeballs connects fail with an AggregateError of one error per address.
  const first = (err as { errors?: unknown }).errors;
  return Array.isArray(first) ? errorCode(first[0]) : undefined;
}

function toGatewayError(err: unknown, signal: AbortSignal): GatewayError {
  if (err instanceof GatewayError) return err;
  if (signal.aborted) {
    return new GatewayTimeoutError('The gateway call was cancelled: the request deadline passed.', { cause: err });
  }
  const code = errorCode(err);
  if (code && TIMEOUTS.has(code)) return new GatewayTimeoutError('The gateway did not answer in time.', { cause: err });
  if (code && NEVER_SENT.has(code)) {
    return new GatewayUnavailableError('The gateway could not be reached.', true, { cause: err });
  }
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
    return new GatewayProtocolError('The gateway answer exceeds the size limit.', { cause: err });
  }
  if (code && TLS_CODE.test(code)) {
    return new GatewayUnavailableError('The TLS connection to the gateway failed.', false, { cause: err });
  }
  // Reset or closed mid-exchange: the gateway may have acted on the request, so not transient.
  return new GatewayUnavailableError('The connection to the gateway failed.', false, { cause: err });
}
