import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { DEFAULT_POLICY_PATHS, KvStore, TokenStore, newRequestId, pathMatches, type TokenRecord } from './vault-double-state';

/**
 * An in-process stand-in for HashiCorp Vault's HTTP API, following its documented request and
 * response shapes: KV v2 read/write/delete/metadata, AppRole and Kubernetes login, token
 * lookup-self / renew-self / revoke-self, sys/health, `{"errors":[...]}` bodies, 403 permission
 * denied, 404 for a missing path, 503 while sealed, TTL / max TTL / renewability of tokens.
 * Plain Node (no jest globals), so a benchmark can run the broker against it too. It never logs
 * and never records a token or a secret value.
 */

export interface LoginRoleOptions {
  /** Policies attached to the tokens this role issues. */
  readonly policies: readonly string[];
  /** token_ttl of the role (seconds); default 3600. */
  readonly tokenTtl?: number;
  /** token_max_ttl of the role (seconds); default 0 (none). */
  readonly tokenMaxTtl?: number;
  readonly renewable?: boolean;
}

export interface AppRoleOptions extends LoginRoleOptions {
  readonly mount?: string;
  readonly roleName?: string;
  readonly roleId: string;
  readonly secretId: string;
}

export interface KubernetesRoleOptions extends LoginRoleOptions {
  readonly mount?: string;
  /** The Vault role the pod logs in as. */
  readonly role: string;
  /** The service-account JWT Vault accepts (the double does not call a TokenReview API). */
  readonly jwt: string;
  readonly serviceAccountName?: string;
  readonly serviceAccountNamespace?: string;
}

export interface VaultDoubleOptions {
  /** KV v2 mounts; default ['secret']. */
  readonly kvMounts?: readonly string[];
  /** When set, every request except sys/health must carry `X-Vault-Namespace` with this value. */
  readonly namespace?: string;
  /** Policy name → path globs the policy may read, e.g. { broker: ['secret/data/merchants/*'] }. */
  readonly policies?: Readonly<Record<string, readonly string[]>>;
  readonly approle?: AppRoleOptions;
  readonly kubernetes?: KubernetesRoleOptions;
  /** Serve HTTPS with this PEM key and certificate. */
  readonly tls?: { readonly key: string; readonly cert: string };
  readonly host?: string;
  readonly port?: number;
}

export interface VaultRequestRecord {
  readonly method: string;
  /** API path without /v1/ and without the query string. */
  readonly path: string;
  readonly status: number;
  readonly namespace: string | undefined;
  readonly withToken: boolean;
}

export interface VaultDoubleStats {
  kvReads: number;
  kvWrites: number;
  logins: { approle: number; kubernetes: number };
  loginFailures: number;
  renewals: number;
  renewalFailures: number;
  lookups: number;
  revocations: number;
}

export interface VaultDouble {
  /** Base address, e.g. http://127.0.0.1:41234 (what VAULT_ADDR takes). */
  readonly url: string;
  readonly rootToken: string;
  readonly stats: VaultDoubleStats;
  readonly requests: VaultRequestRecord[];
  readonly sealed: boolean;
  /** Writes a new version of a KV v2 secret and returns its version number. */
  writeSecret(mount: string, path: string, data: Record<string, unknown>): number;
  /** Soft-deletes the latest version (reads then answer 404). */
  deleteSecret(mount: string, path: string): void;
  /** Like `vault token create`: a service token with these policies. */
  issueToken(options: { policies: readonly string[]; ttl: number; maxTtl?: number; renewable?: boolean }): string;
  revokeToken(token: string): void;
  /** Revokes every token but the root token (an operator revoking the broker's leases). */
  revokeAllTokens(): void;
  /** Every token but the root token reaches its TTL now. */
  expireAllTokens(): void;
  /** Every token issued but the root token (tests check none of them reached a log). */
  tokensIssued(): string[];
  /** Remaining TTL of a live token in seconds (0 = never expires), undefined when not live. */
  tokenTtl(token: string): number | undefined;
  /** Replaces the paths a policy may read. */
  setPolicy(name: string, paths: readonly string[]): void;
  /** Changes the TTLs of tokens issued by later logins. */
  setLoginTokenTtl(method: 'approle' | 'kubernetes', ttl: number, maxTtl?: number): void;
  seal(): void;
  unseal(): void;
  /** false: every connection is dropped at once, as if Vault were down. */
  setReachable(reachable: boolean): void;
  /** Delay before each answer (ms). */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

const BODY_LIMIT = 1_048_576;

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
  ) {
    super(errors.join('; '));
  }
}

const permissionDenied = () => new HttpError(403, ['permission denied']);
const noHandler = (path: string) => new HttpError(404, [`no handler for route "${path}". route entry not found.`]);

export async function startVaultDouble(options: VaultDoubleOptions = {}): Promise<VaultDouble> {
  const kv = new KvStore(new Set(options.kvMounts ?? ['secret']));
  const tokens = new TokenStore();
  const root = tokens.issueRoot();
  const policies = new Map(Object.entries(options.policies ?? {}).map(([k, v]) => [k, [...v]]));
  const approle = options.approle ? { ...options.approle, mount: options.approle.mount ?? 'approle' } : undefined;
  const kubernetes = options.kubernetes ? { ...options.kubernetes, mount: options.kubernetes.mount ?? 'kubernetes' } : undefined;
  const stats: VaultDoubleStats = {
    kvReads: 0,
    kvWrites: 0,
    logins: { approle: 0, kubernetes: 0 },
    loginFailures: 0,
    renewals: 0,
    renewalFailures: 0,
    lookups: 0,
    revocations: 0,
  };
  const requests: VaultRequestRecord[] = [];
  const sockets = new Set<Socket>();
  let sealed = false;
  let reachable = true;
  let latencyMs = 0;

  const envelope = (fields: { data?: unknown; auth?: unknown; warnings?: string[] | null; mountType?: string }) => ({
    request_id: newRequestId(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data: fields.data ?? null,
    wrap_info: null,
    warnings: fields.warnings ?? null,
    auth: fields.auth ?? null,
    mount_type: fields.mountType ?? '',
  });

  const authBlock = (token: TokenRecord, leaseSeconds: number) => ({
    client_token: token.id,
    accessor: token.accessor,
    policies: token.policies,
    token_policies: token.policies,
    metadata: token.meta,
    lease_duration: leaseSeconds,
    renewable: token.renewable,
    entity_id: randomUUID(),
    token_type: 'service',
    orphan: true,
    mfa_requirement: null,
    num_uses: 0,
  });

  const allowed = (token: TokenRecord, apiPath: string): boolean => {
    if (token.policies.includes('root')) return true;
    if (DEFAULT_POLICY_PATHS.includes(apiPath)) return true;
    return token.policies.some((name) => (policies.get(name) ?? []).some((glob) => pathMatches(glob, apiPath)));
  };

  const login = (method: 'approle' | 'kubernetes', role: LoginRoleOptions, meta: Record<string, string>, path: string): Reply => {
    const token = tokens.issue({
      policies: role.policies,
      ttl: role.tokenTtl ?? 3600,
      maxTtl: role.tokenMaxTtl ?? 0,
      renewable: role.renewable ?? true,
      path,
      meta,
    });
    stats.logins[method]++;
    return { status: 200, body: envelope({ auth: authBlock(token, token.creationTtl) }) };
  };

  const route = async (req: IncomingMessage, apiPath: string, query: URLSearchParams): Promise<Reply> => {
    const method = req.method ?? 'GET';
    if (apiPath === 'sys/health' && method === 'GET') {
      const body = {
        initialized: true,
        sealed,
        standby: sealed,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(Date.now() / 1000),
        version: '1.17.0',
        enterprise: options.namespace !== undefined,
        cluster_name: 'vault-double',
        cluster_id: 'b5ab7c8e-0000-4000-8000-000000000000',
      };
      return { status: sealed ? 503 : 200, body };
    }
    const namespace = header(req, 'x-vault-namespace')?.replace(/\/+$/, '');
    if (options.namespace !== undefined && namespace !== options.namespace.replace(/\/+$/, '')) throw noHandler(apiPath);
    if (sealed) throw new HttpError(503, ['Vault is sealed']);

    const body = method === 'GET' || method === 'DELETE' ? {} : await readJson(req);
    if (approle && apiPath === `auth/${approle.mount}/login` && (method === 'POST' || method === 'PUT')) {
      if (typeof body.role_id !== 'string' || body.role_id === '') {
        stats.loginFailures++;
        throw new HttpError(400, ['missing role_id']);
      }
      if (body.role_id !== approle.roleId || body.secret_id !== approle.secretId) {
        stats.loginFailures++;
        throw new HttpError(400, ['invalid role or secret ID']);
      }
      return login('approle', approle, { role_name: approle.roleName ?? 'pos-session-broker' }, apiPath);
    }
    if (kubernetes && apiPath === `auth/${kubernetes.mount}/login` && (method === 'POST' || method === 'PUT')) {
      if (typeof body.role !== 'string' || body.role === '') {
        stats.loginFailures++;
        throw new HttpError(400, ['missing role']);
      }
      if (typeof body.jwt !== 'string' || body.jwt === '') {
        stats.loginFailures++;
        throw new HttpError(400, ['missing jwt']);
      }
      if (body.role !== kubernetes.role) {
        stats.loginFailures++;
        throw new HttpError(400, [`invalid role name "${body.role}"`]);
      }
      if (body.jwt !== kubernetes.jwt) {
        stats.loginFailures++;
        throw permissionDenied();
      }
      return login(
        'kubernetes',
        kubernetes,
        {
          role: kubernetes.role,
          service_account_name: kubernetes.serviceAccountName ?? 'pos-session-broker',
          service_account_namespace: kubernetes.serviceAccountNamespace ?? 'payments',
          service_account_secret_name: '',
          service_account_uid: '3c9f4a8e-1f2b-4c55-9d7e-5a6b7c8d9e0f',
        },
        apiPath,
      );
    }

    const token = tokens.live(header(req, 'x-vault-token'));
    if (!token) {
      if (apiPath === 'auth/token/renew-self') stats.renewalFailures++;
      throw permissionDenied();
    }
    if (!allowed(token, apiPath)) throw permissionDenied();

    if (apiPath === 'auth/token/lookup-self' && method === 'GET') {
      stats.lookups++;
      return {
        status: 200,
        body: envelope({
          mountType: 'token',
          data: {
            accessor: token.accessor,
            creation_time: Math.floor(token.issuedAt / 1000),
            creation_ttl: token.creationTtl,
            display_name: token.path.split('/')[1] ?? 'token',
            entity_id: '',
            expire_time: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString(),
            explicit_max_ttl: 0,
            id: token.id,
            issue_time: new Date(token.issuedAt).toISOString(),
            meta: token.meta,
            num_uses: 0,
            orphan: true,
            path: token.path,
            policies: token.policies,
            renewable: token.renewable,
            ttl: tokens.remainingSeconds(token),
            type: 'service',
          },
        }),
      };
    }
    if (apiPath === 'auth/token/renew-self' && (method === 'POST' || method === 'PUT')) {
      if (!token.renewable) {
        stats.renewalFailures++;
        throw new HttpError(400, ['lease is not renewable']);
      }
      const renewed = tokens.renew(token, durationSeconds(body.increment));
      if (renewed.ttl <= 0) {
        tokens.revoke(token.id);
        stats.renewalFailures++;
        throw permissionDenied();
      }
      stats.renewals++;
      const warnings = renewed.capped
        ? [`TTL of "${renewed.asked}s" exceeded the effective max_ttl of "${renewed.ttl}s"; TTL value is capped accordingly`]
        : null;
      return { status: 200, body: envelope({ mountType: 'token', auth: authBlock(token, renewed.ttl), warnings }) };
    }
    if (apiPath === 'auth/token/revoke-self' && (method === 'POST' || method === 'PUT')) {
      tokens.revoke(token.id);
      stats.revocations++;
      return { status: 204 };
    }

    const kvPath = matchKv(kv.mounts, apiPath);
    if (!kvPath) throw noHandler(apiPath);
    const { mount, kind, path } = kvPath;
    if (kind === 'data' && method === 'GET') {
      stats.kvReads++;
      const found = kv.read(mount, path, Number(query.get('version') ?? 0));
      if (!found) throw new HttpError(404, []);
      const metadata = {
        created_time: found.entry.createdTime,
        custom_metadata: null,
        deletion_time: found.entry.deletionTime,
        destroyed: found.entry.destroyed,
        version: found.version,
      };
      if (found.entry.deletionTime !== '' || found.entry.destroyed) {
        return { status: 404, body: envelope({ mountType: 'kv', data: { data: null, metadata } }) };
      }
      return { status: 200, body: envelope({ mountType: 'kv', data: { data: { ...found.entry.data }, metadata } }) };
    }
    if (kind === 'metadata' && method === 'GET') {
      const metadata = kv.metadata(mount, path);
      if (!metadata) throw new HttpError(404, []);
      return { status: 200, body: envelope({ mountType: 'kv', data: metadata }) };
    }
    if (!token.policies.includes('root')) throw permissionDenied();
    if (kind === 'data' && (method === 'POST' || method === 'PUT')) {
      if (typeof body.data !== 'object' || body.data === null) throw new HttpError(400, ['no data provided']);
      const version = kv.write(mount, path, body.data as Record<string, unknown>);
      stats.kvWrites++;
      const written = kv.read(mount, path, version)!;
      return {
        status: 200,
        body: envelope({
          mountType: 'kv',
          data: { created_time: written.entry.createdTime, custom_metadata: null, deletion_time: '', destroyed: false, version },
        }),
      };
    }
    if (kind === 'data' && method === 'DELETE') {
      kv.deleteLatest(mount, path);
      return { status: 204 };
    }
    throw new HttpError(405, ['unsupported operation']);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!reachable) {
      req.socket.destroy();
      return;
    }
    // unref'd: a delayed answer must not keep a finished test run alive after close().
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs).unref());
    const url = new URL(req.url ?? '/', 'http://vault');
    const apiPath = url.pathname.startsWith('/v1/') ? decodeURIComponent(url.pathname.slice(4)) : '';
    let reply: Reply;
    try {
      if (!apiPath) throw new HttpError(404, []);
      reply = await route(req, apiPath, url.searchParams);
    } catch (err) {
      reply = err instanceof HttpError ? { status: err.status, body: { errors: err.errors } } : { status: 500, body: { errors: ['internal error'] } };
    }
    requests.push({
      method: req.method ?? 'GET',
      path: apiPath,
      status: reply.status,
      namespace: header(req, 'x-vault-namespace'),
      withToken: header(req, 'x-vault-token') !== undefined,
    });
    if (res.destroyed) return;
    res.statusCode = reply.status;
    res.setHeader('cache-control', 'no-store');
    if (reply.body === undefined) {
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(reply.body));
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => void handle(req, res);
  const server: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener) : createHttpServer(listener);
  server.on('connection', (socket: Socket) => {
    if (!reachable) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const loginRole = (method: 'approle' | 'kubernetes') => {
    const role = method === 'approle' ? approle : kubernetes;
    if (!role) throw new Error(`the Vault double has no ${method} role`);
    return role as { tokenTtl?: number; tokenMaxTtl?: number };
  };

  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    rootToken: root.id,
    stats,
    requests,
    get sealed() {
      return sealed;
    },
    writeSecret: (mount, path, data) => kv.write(mount, path, data),
    deleteSecret: (mount, path) => {
      kv.requireMount(mount);
      kv.deleteLatest(mount, path);
    },
    issueToken: (o) => tokens.issue({ policies: o.policies, ttl: o.ttl, maxTtl: o.maxTtl, renewable: o.renewable }).id,
    revokeToken: (token) => void tokens.revoke(token),
    revokeAllTokens: () => tokens.nonRoot().forEach((t) => tokens.revoke(t.id)),
    expireAllTokens: () => tokens.nonRoot().forEach((t) => (t.expiresAt = Date.now() - 1)),
    tokensIssued: () => tokens.nonRoot().map((t) => t.id),
    tokenTtl: (token) => {
      const live = tokens.live(token);
      return live ? tokens.remainingSeconds(live) : undefined;
    },
    setPolicy: (name, paths) => void policies.set(name, [...paths]),
    setLoginTokenTtl: (method, ttl, maxTtl = 0) => {
      const role = loginRole(method);
      role.tokenTtl = ttl;
      role.tokenMaxTtl = maxTtl;
    },
    seal: () => void (sealed = true),
    unseal: () => void (sealed = false),
    setReachable: (value) => {
      reachable = value;
      if (!value) for (const s of sockets) s.destroy();
    },
    setLatency: (ms) => void (latencyMs = ms),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function matchKv(mounts: ReadonlySet<string>, apiPath: string): { mount: string; kind: 'data' | 'metadata'; path: string } | undefined {
  for (const mount of mounts) {
    for (const kind of ['data', 'metadata'] as const) {
      const prefix = `${mount}/${kind}/`;
      if (apiPath.startsWith(prefix) && apiPath.length > prefix.length) return { mount, kind, path: apiPath.slice(prefix.length) };
    }
  }
  return undefined;
}

/** Vault takes durations as integer seconds or strings like "90s", "15m", "1h". */
function durationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.floor(value);
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+)(s|m|h)?$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new HttpError(413, ['request body too large']);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw new HttpError(400, ['failed to parse JSON input']);
  }
}
