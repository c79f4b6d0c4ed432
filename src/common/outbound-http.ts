import { Pool, type Dispatcher } from 'undici';

/**
 * What every outbound HTTP client of the broker shares (the payment gateways' and Vault's): one
 * undici Pool per origin with TLS always verified, a capped body read, a safe discard of an unread
 * body, and one reading of undici's failure codes. Each client maps the failure to its own errors.
 */

export interface OutboundPoolOptions {
  readonly connections: number;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** undici's own cap, beside the one readCapped() enforces. */
  readonly maxResponseBytes?: number;
  /** PEM contents of the CA(s) to trust instead of the system store (Node's `ca` semantics). */
  readonly ca?: string;
}

export function createOutboundPool(origin: string, o: OutboundPoolOptions): Pool {
  return new Pool(origin, {
    connections: o.connections,
    connect: { timeout: o.connectTimeoutMs, rejectUnauthorized: true, ...(o.ca ? { ca: o.ca } : {}) },
    headersTimeout: o.headersTimeoutMs,
    bodyTimeout: o.bodyTimeoutMs,
    ...(o.maxResponseBytes !== undefined ? { maxResponseSize: o.maxResponseBytes } : {}),
  });
}

/**
 * The whole body, at most `cap` bytes (else `tooLarge()` is thrown). The chunks are zeroed once
 * joined: answers may carry secrets that should not linger on the heap.
 */
export async function readCapped(body: AsyncIterable<Buffer>, cap: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > cap) throw tooLarge();
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size);
  } finally {
    for (const c of chunks) c.fill(0);
  }
}

/** An unread or half-read body pins its socket. Destroying an unfinished body makes it emit an error nobody awaits. */
export function discardBody(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** The JSON object in a text, or undefined when it is not one. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why an outbound call failed below HTTP:
 * - `timeout`: a connect, headers or body timeout fired;
 * - `aborted`: the caller's signal (a deadline) aborted it;
 * - `never-sent`: the connection was never made, so resending cannot act twice;
 * - `tls`: the TLS handshake or certificate check failed;
 * - `too-large`: the answer exceeded the size cap;
 * - `connection-lost`: reset or closed mid-exchange (the peer may have acted on the request).
 */
export type TransportFailure = 'timeout' | 'aborted' | 'never-sent' | 'tls' | 'too-large' | 'connection-lost';

const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const ABORTED = new Set(['ABORT_ERR', 'UND_ERR_ABORTED']);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

export function transportFailure(err: unknown): TransportFailure {
  const code = errorCode(err);
  if (code === undefined) return 'connection-lost';
  if (TIMEOUTS.has(code)) return 'timeout';
  if (ABORTED.has(code)) return 'aborted';
  if (NEVER_SENT.has(code)) return 'never-sent';
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return 'too-large';
  if (TLS_CODE.test(code)) return 'tls';
  return 'connection-lost';
}

/** The error's code (undici's, Node's, or an abort's), looking into happy-eyeballs' AggregateError. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code !== '') return code;
  const name = (err as { name?: unknown }).name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'ABORT_ERR';
  // Happy-eyeballs connects fail with an AggregateError of one error per address.
  const first = (err as { errors?: unknown }).errors;
  return Array.isArray(first) ? errorCode(first[0]) : undefined;
}
