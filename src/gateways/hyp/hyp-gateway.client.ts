import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import {
  GatewayError,
  GatewayProtocolError,
  GatewayTimeoutError,
  GatewayUnavailableError,
} from '../../common/errors';

export interface HypGatewayClientOptions {
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly connectionsPerOrigin: number;
  /** PEM contents of the CA(s) to trust instead of the system store (Node's `ca` semantics). */
  readonly ca?: string;
}

/** Failures where the connection never carried the request, so resending cannot double anything. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/**
 * The only way the broker talks HTTP to Hyp. Every failure leaves as a GatewayError with a fixed
 * detail: the form carries the merchant password, so nothing derived from the request is quoted.
 */
export class HypGatewayClient {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  constructor(private readonly options: HypGatewayClientOptions) {}

  async postForm(endpointUrl: string, form: Record<string, string>, signal: AbortSignal): Promise<string> {
    const url = parseEndpoint(endpointUrl);
    if (this.closed) throw new GatewayUnavailableError('The gateway client is shutting down.', false);
    if (signal.aborted) throw new GatewayTimeoutError('The gateway call was cancelled: the request deadline passed.');

    let response: Dispatcher.ResponseData | undefined;
    try {
      response = await this.pool(url.origin).request({
        method: 'POST',
        path: `${url.pathname}${url.search}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/xml, text/xml' },
        body: new URLSearchParams(form).toString(),
        signal,
      });
      const status = response.statusCode;
      if (status >= 500) throw new GatewayUnavailableError(`The gateway answered HTTP ${status}.`, true);
      if (status < 200 || status > 299) throw new GatewayProtocolError(`The gateway answered HTTP ${status}.`);
      return await readText(response.body, this.options.maxResponseBytes);
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

function parseEndpoint(endpointUrl: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(endpointUrl);
  } catch {
    url = undefined;
  }
  // Credentials belong in the form, never in a URL that ends up in logs.
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) {
    throw new GatewayUnavailableError('The gateway endpoint of this terminal is misconfigured.', false);
  }
  return url;
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
