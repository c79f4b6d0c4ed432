import type { Dispatcher, Pool } from 'undici';
import { createOutboundPool, discardBody, errorCode, jsonObject, readCapped, transportFailure } from '../../common/outbound-http';
import { VaultError, type VaultErrorKind } from './vault-errors';

export interface VaultClientOptions {
  /** VAULT_ADDR, e.g. https://vault.internal:8200 (no path). */
  readonly address: string;
  /** Vault Enterprise / HCP namespace, sent as X-Vault-Namespace. */
  readonly namespace?: string;
  /** PEM bundle of the CAs to trust instead of the system store. */
  readonly ca?: string;
  /** Per request: connect, headers and body together (ms). */
  readonly requestTimeoutMs: number;
  readonly connections?: number;
}

/** Vault's `auth` block of a login or renewal. */
export interface VaultAuthResult {
  readonly clientToken: string;
  readonly leaseDurationSeconds: number;
  readonly renewable: boolean;
}

export interface VaultTokenInfo {
  readonly ttlSeconds: number;
  readonly creationTtlSeconds: number;
  readonly renewable: boolean;
}

export interface KvSecret {
  readonly data: Readonly<Record<string, unknown>>;
  readonly version: number;
}

const MAX_RESPONSE_BYTES = 1_048_576;

/**
 * The broker's only HTTP path to Vault: one undici Pool for VAULT_ADDR, TLS always verified
 * (optionally against VAULT_CA_FILE), X-Vault-Namespace when configured, X-Vault-Request on every
 * call (Vault Agent's require_request_header). Answers are read as bytes and the buffer is
 * zeroed once parsed, so the raw JSON with secret values does not linger on the heap.
 */
export class VaultClient {
  private readonly pool: Pool;
  private readonly basePath: string;
  private closed = false;

  constructor(private readonly options: VaultClientOptions) {
    const url = new URL(options.address);
    if (url.username || url.password) throw new Error('VAULT_ADDR must not carry credentials');
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.pool = createOutboundPool(url.origin, {
      connections: options.connections ?? 16,
      connectTimeoutMs: options.requestTimeoutMs,
      headersTimeoutMs: options.requestTimeoutMs,
      bodyTimeoutMs: options.requestTimeoutMs,
      ca: options.ca,
    });
  }

  /** GET /v1/{mount}/data/{path}: the latest version's `data.data` and `data.metadata.version`. */
  async readKv(mount: string, path: string, token: string): Promise<KvSecret> {
    const body = await this.call('kv read', 'GET', `${encodePath(mount)}/data/${encodePath(path)}`, token);
    const data = body.data as { data?: unknown; metadata?: { version?: unknown } } | null | undefined;
    const version = data?.metadata?.version;
    if (!data || typeof data.data !== 'object' || data.data === null || typeof version !== 'number') {
      throw new VaultError('kv read', 'bad-response', 200, ['no data.data / data.metadata.version (is the mount KV version 2?)']);
    }
    return { data: data.data as Record<string, unknown>, version };
  }

  /** POST /v1/auth/{mount}/login (AppRole, Kubernetes...). */
  async login(authMount: string, payload: Record<string, string>): Promise<VaultAuthResult> {
    const operation = `${authMount} login`;
    try {
      return parseAuth(operation, await this.call(operation, 'POST', `auth/${encodePath(authMount)}/login`, undefined, payload));
    } catch (err) {
      // A refused login is the broker's identity problem, whatever status Vault chose (400 or 403).
      if (err instanceof VaultError && (err.kind === 'bad-request' || err.kind === 'permission-denied' || err.kind === 'not-found')) {
        throw new VaultError(operation, 'auth-failed', err.status, [], { cause: err });
      }
      throw err;
    }
  }

  /** POST /v1/auth/token/renew-self with the increment asked for (Vault may grant less: max TTL). */
  async renewSelf(token: string, incrementSeconds: number): Promise<VaultAuthResult> {
    const payload = incrementSeconds > 0 ? { increment: `${incrementSeconds}s` } : {};
    return parseAuth('token renewal', await this.call('token renewal', 'POST', 'auth/token/renew-self', token, payload));
  }

  /** GET /v1/auth/token/lookup-self: the token's remaining TTL and renewability. */
  async lookupSelf(token: string): Promise<VaultTokenInfo> {
    const body = await this.call('token lookup', 'GET', 'auth/token/lookup-self', token);
    const data = body.data as { ttl?: unknown; creation_ttl?: unknown; renewable?: unknown } | null | undefined;
    if (!data || typeof data.ttl !== 'number') throw new VaultError('token lookup', 'bad-response', 200);
    return {
      ttlSeconds: data.ttl,
      creationTtlSeconds: typeof data.creation_ttl === 'number' ? data.creation_ttl : data.ttl,
      renewable: data.renewable === true,
    };
  }

  /** POST /v1/auth/token/revoke-self, so a stopped broker leaves no live token behind. */
  async revokeSelf(token: string): Promise<void> {
    await this.call('token revocation', 'POST', 'auth/token/revoke-self', token, {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }

  private async call(
    operation: string,
    method: 'GET' | 'POST',
    apiPath: string,
    token: string | undefined,
    payload?: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    if (this.closed) throw new VaultError(operation, 'unreachable', undefined, ['the Vault client is closed']);
    const headers: Record<string, string> = { accept: 'application/json', 'x-vault-request': 'true' };
    if (token !== undefined) headers['x-vault-token'] = token;
    if (this.options.namespace) headers['x-vault-namespace'] = this.options.namespace;
    if (payload !== undefined) headers['content-type'] = 'application/json';

    let response: Dispatcher.ResponseData | undefined;
    let raw: Buffer | undefined;
    try {
      response = await this.pool.request({
        method,
        path: `${this.basePath}/v1/${apiPath}`,
        headers,
        body: payload === undefined ? undefined : JSON.stringify(payload),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      raw = await readCapped(response.body, MAX_RESPONSE_BYTES, () => new VaultError(operation, 'bad-response', undefined, ['answer too large']));
      const body = jsonObject(raw.toString('utf8'));
      const status = response.statusCode;
      if (status >= 200 && status < 300) {
        if (status === 204) return {};
        if (!body) throw new VaultError(operation, 'bad-response', status);
        return body;
      }
      throw new VaultError(operation, kindOf(status, body), status, vaultErrors(body));
    } catch (err) {
      if (err instanceof VaultError) throw err;
      if (response) discardBody(response.body);
      throw new VaultError(operation, networkKind(err), undefined, [], { cause: stripped(err) });
    } finally {
      raw?.fill(0);
    }
  }
}

function parseAuth(operation: string, body: Record<string, unknown>): VaultAuthResult {
  const auth = body.auth as { client_token?: unknown; lease_duration?: unknown; renewable?: unknown } | null | undefined;
  if (!auth || typeof auth.client_token !== 'string' || auth.client_token === '' || typeof auth.lease_duration !== 'number') {
    throw new VaultError(operation, 'bad-response', 200, ['no auth.client_token / auth.lease_duration']);
  }
  return { clientToken: auth.client_token, leaseDurationSeconds: auth.lease_duration, renewable: auth.renewable === true };
}

function kindOf(status: number, body: Record<string, unknown> | undefined): VaultErrorKind {
  if (status === 404) return 'not-found';
  if (status === 403) return 'permission-denied';
  if (status === 429) return 'rate-limited';
  if (status === 503 && vaultErrors(body).some((e) => /sealed/i.test(e))) return 'sealed';
  if (status >= 500) return 'server-error';
  if (status === 400) return 'bad-request';
  return 'bad-response';
}

function vaultErrors(body: Record<string, unknown> | undefined): string[] {
  const errors = body?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string') : [];
}

function networkKind(err: unknown): VaultErrorKind {
  switch (transportFailure(err)) {
    case 'timeout':
    case 'aborted':
      return 'timeout';
    case 'tls':
      return 'tls-failed';
    case 'too-large':
      return 'bad-response';
    default:
      return 'unreachable';
  }
}

/** Keeps the code and message of a network error, not the request it was carrying. */
function stripped(err: unknown): Error {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const out = new Error(code ? `${code}: ${message}` : message);
  out.name = err instanceof Error ? err.name : 'Error';
  return out;
}

/** Each segment percent-encoded: a ref can never climb out of its mount or smuggle a query. */
function encodePath(path: string): string {
  return path
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
}
