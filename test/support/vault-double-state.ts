import { randomBytes, randomUUID } from 'node:crypto';

/**
 * The state behind the Vault HTTP double: KV v2 mounts with versions, service tokens with TTL,
 * max TTL and renewability, and path-glob policies. Plain Node (no jest globals): a benchmark
 * imports it too.
 */

export interface KvVersion {
  readonly data: Record<string, unknown>;
  readonly createdTime: string;
  deletionTime: string;
  destroyed: boolean;
}

export class KvStore {
  private readonly secrets = new Map<string, { versions: KvVersion[]; createdTime: string; updatedTime: string }>();

  constructor(readonly mounts: ReadonlySet<string>) {}

  /** Writes a new version (Vault numbers them from 1) and returns its number. */
  write(mount: string, path: string, data: Record<string, unknown>): number {
    this.requireMount(mount);
    const key = `${mount}/${path}`;
    const now = new Date().toISOString();
    const secret = this.secrets.get(key) ?? { versions: [], createdTime: now, updatedTime: now };
    secret.versions.push({ data: { ...data }, createdTime: now, deletionTime: '', destroyed: false });
    secret.updatedTime = now;
    this.secrets.set(key, secret);
    return secret.versions.length;
  }

  /** Soft-deletes the latest version, as `DELETE /v1/{mount}/data/{path}` does. */
  deleteLatest(mount: string, path: string): boolean {
    const secret = this.secrets.get(`${mount}/${path}`);
    const latest = secret?.versions[secret.versions.length - 1];
    if (!latest) return false;
    latest.deletionTime = new Date().toISOString();
    return true;
  }

  read(mount: string, path: string, version?: number): { version: number; entry: KvVersion } | undefined {
    const secret = this.secrets.get(`${mount}/${path}`);
    if (!secret) return undefined;
    const number = version && version > 0 ? version : secret.versions.length;
    const entry = secret.versions[number - 1];
    return entry ? { version: number, entry } : undefined;
  }

  metadata(mount: string, path: string) {
    const secret = this.secrets.get(`${mount}/${path}`);
    if (!secret) return undefined;
    const versions: Record<string, { created_time: string; deletion_time: string; destroyed: boolean }> = {};
    secret.versions.forEach((v, i) => {
      versions[String(i + 1)] = { created_time: v.createdTime, deletion_time: v.deletionTime, destroyed: v.destroyed };
    });
    return {
      cas_required: false,
      created_time: secret.createdTime,
      current_version: secret.versions.length,
      custom_metadata: null,
      delete_version_after: '0s',
      max_versions: 0,
      oldest_version: 0,
      updated_time: secret.updatedTime,
      versions,
    };
  }

  requireMount(mount: string): void {
    if (!this.mounts.has(mount)) throw new Error(`no KV v2 mount "${mount}" in the Vault double`);
  }
}

export interface TokenRecord {
  readonly id: string;
  readonly accessor: string;
  readonly policies: readonly string[];
  readonly path: string;
  readonly meta: Record<string, string> | null;
  readonly issuedAt: number;
  /** Seconds the token was created with, the default renewal increment. 0 means it never expires. */
  readonly creationTtl: number;
  readonly maxTtl: number;
  readonly renewable: boolean;
  expiresAt: number | null;
  revoked: boolean;
}

export interface TokenOptions {
  policies: readonly string[];
  /** Seconds; 0 = no expiry (like the root token). */
  ttl: number;
  /** Seconds after issue beyond which renewals are capped (Vault's max_ttl); 0 = none. */
  maxTtl?: number;
  renewable?: boolean;
  path?: string;
  meta?: Record<string, string> | null;
}

export class TokenStore {
  private readonly tokens = new Map<string, TokenRecord>();

  issue(options: TokenOptions): TokenRecord {
    const now = Date.now();
    const token: TokenRecord = {
      id: `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      policies: ['default', ...options.policies.filter((p) => p !== 'default')],
      path: options.path ?? 'auth/token/create',
      meta: options.meta ?? null,
      issuedAt: now,
      creationTtl: options.ttl,
      maxTtl: options.maxTtl ?? 0,
      renewable: options.ttl > 0 && (options.renewable ?? true),
      expiresAt: options.ttl > 0 ? now + options.ttl * 1000 : null,
      revoked: false,
    };
    this.tokens.set(token.id, token);
    return token;
  }

  issueRoot(): TokenRecord {
    const root = this.issue({ policies: ['root'], ttl: 0, path: 'auth/token/root' });
    return root;
  }

  /** The live token for this id, or undefined if unknown, revoked or expired. */
  live(id: string | undefined): TokenRecord | undefined {
    if (!id) return undefined;
    const token = this.tokens.get(id);
    if (!token || token.revoked) return undefined;
    if (token.expiresAt !== null && token.expiresAt <= Date.now()) return undefined;
    return token;
  }

  /** Renews as Vault does: the new TTL is the increment (or the creation TTL), capped at max TTL. */
  renew(token: TokenRecord, incrementSeconds: number | undefined): { ttl: number; capped: boolean; asked: number } {
    const asked = incrementSeconds && incrementSeconds > 0 ? incrementSeconds : token.creationTtl;
    const now = Date.now();
    let ttl = asked;
    let capped = false;
    if (token.maxTtl > 0) {
      const left = Math.floor((token.issuedAt + token.maxTtl * 1000 - now) / 1000);
      if (left < ttl) {
        ttl = Math.max(left, 0);
        capped = true;
      }
    }
    token.expiresAt = now + ttl * 1000;
    return { ttl, capped, asked };
  }

  remainingSeconds(token: TokenRecord): number {
    return token.expiresAt === null ? 0 : Math.max(0, Math.round((token.expiresAt - Date.now()) / 1000));
  }

  revoke(id: string): boolean {
    const token = this.tokens.get(id);
    if (!token || token.revoked) return false;
    token.revoked = true;
    return true;
  }

  /** Every token that is not root-policy. */
  nonRoot(): TokenRecord[] {
    return [...this.tokens.values()].filter((t) => !t.policies.includes('root'));
  }
}

/** Vault ACL path globs: a trailing `*` matches any suffix, `+` matches exactly one path segment. */
export function pathMatches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const wanted = (glob ? pattern.slice(0, -1) : pattern).split('/');
  const actual = path.split('/');
  for (let i = 0; i < wanted.length; i++) {
    if (actual[i] === undefined) return false;
    if (glob && i === wanted.length - 1) return actual.slice(i).join('/').startsWith(wanted[i]);
    if (wanted[i] !== '+' && wanted[i] !== actual[i]) return false;
  }
  return actual.length === wanted.length;
}

/** What the default policy grants every token (a subset of Vault's built-in default policy). */
export const DEFAULT_POLICY_PATHS = ['auth/token/lookup-self', 'auth/token/renew-self', 'auth/token/revoke-self'];

export function newRequestId(): string {
  return randomUUID();
}
