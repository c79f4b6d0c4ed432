import { readFile } from 'node:fs/promises';
import type { LoggerService } from '@nestjs/common';
import type { VaultClient } from './vault-client';
import { VaultError } from './vault-errors';

export type VaultLog = Pick<LoggerService, 'log' | 'warn' | 'error'>;

/** A token as obtained: its lease (0 = never expires), renewability and the renewal increment. */
export interface ObtainedToken {
  readonly token: string;
  readonly leaseSeconds: number;
  readonly renewable: boolean;
  /** What to ask for on renew-self; Vault granting less means max TTL is near. */
  readonly incrementSeconds: number;
}

/** How the broker gets a Vault token: a static token, or a login it can repeat at will. */
export interface TokenSource {
  readonly method: 'token' | 'approle' | 'kubernetes';
  /** Login sources can always get a fresh token; a static token can only be read again. */
  readonly canLogin: boolean;
  obtain(client: VaultClient): Promise<ObtainedToken>;
}

/** A value given directly, or the path of a file holding it (re-read on every use: it may rotate). */
export type ValueOrFile = { readonly value: string; readonly setting: string } | { readonly file: string; readonly setting: string };

/**
 * Reads a credential into a string for exactly one request. File contents go through a Buffer
 * that is zeroed at once; the error names the setting, never the contents.
 */
async function reveal(source: ValueOrFile): Promise<string> {
  if ('value' in source) return source.value;
  let raw: Buffer | undefined;
  try {
    raw = await readFile(source.file);
    const value = raw.toString('utf8').trim();
    if (value === '') throw Object.assign(new Error('empty'), { code: 'EMPTY' });
    return value;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new VaultError('login', 'auth-failed', undefined, [`${source.setting} (${source.file}) cannot be read: ${code}`]);
  } finally {
    raw?.fill(0);
  }
}

/** VAULT_TOKEN / VAULT_TOKEN_FILE (e.g. a Vault Agent sink). Its TTL comes from lookup-self. */
export class StaticTokenSource implements TokenSource {
  readonly method = 'token' as const;
  readonly canLogin = false;

  constructor(private readonly token: ValueOrFile) {}

  async obtain(client: VaultClient): Promise<ObtainedToken> {
    const token = await reveal(this.token);
    try {
      const info = await client.lookupSelf(token);
      return { token, leaseSeconds: info.ttlSeconds, renewable: info.renewable, incrementSeconds: info.creationTtlSeconds };
    } catch (err) {
      if (err instanceof VaultError && err.kind === 'permission-denied') {
        throw new VaultError('token lookup', 'auth-failed', err.status, [`the token from ${this.token.setting} is not accepted`]);
      }
      throw err;
    }
  }
}

/** POST /v1/auth/{mount}/login with role_id and secret_id. */
export class AppRoleSource implements TokenSource {
  readonly method = 'approle' as const;
  readonly canLogin = true;

  constructor(
    private readonly mount: string,
    private readonly roleId: ValueOrFile,
    private readonly secretId: ValueOrFile,
  ) {}

  async obtain(client: VaultClient): Promise<ObtainedToken> {
    const auth = await client.login(this.mount, { role_id: await reveal(this.roleId), secret_id: await reveal(this.secretId) });
    return { token: auth.clientToken, leaseSeconds: auth.leaseDurationSeconds, renewable: auth.renewable, incrementSeconds: auth.leaseDurationSeconds };
  }
}

/** POST /v1/auth/{mount}/login with the pod's service-account JWT (read each time: projected tokens rotate). */
export class KubernetesSource implements TokenSource {
  readonly method = 'kubernetes' as const;
  readonly canLogin = true;

  constructor(
    private readonly mount: string,
    private readonly role: string,
    private readonly jwtPath: string,
  ) {}

  async obtain(client: VaultClient): Promise<ObtainedToken> {
    const jwt = await reveal({ file: this.jwtPath, setting: 'VAULT_KUBERNETES_JWT_PATH' });
    const auth = await client.login(this.mount, { role: this.role, jwt });
    return { token: auth.clientToken, leaseSeconds: auth.leaseDurationSeconds, renewable: auth.renewable, incrementSeconds: auth.leaseDurationSeconds };
  }
}

interface HeldToken extends ObtainedToken {
  /** ms epoch; null when the token never expires. */
  readonly expiresAt: number | null;
  /** Vault granted less than asked on the last renewal: max TTL is near, log in again instead. */
  readonly capped: boolean;
}

/** Renew once about two thirds of the lease has passed (jittered so instances spread out). */
const RENEW_AT = () => 0.62 + Math.random() * 0.08;
const MAX_RETRY_MS = 30_000;
const MIN_RETRY_MS = 250;
/** A token this close to its expiry is not handed out any more. */
const EXPIRY_MARGIN_MS = 500;

/**
 * Holds the broker's Vault token: obtains it (single-flight), renews it with renew-self before its
 * TTL runs out, logs in again when renewal is refused or max TTL is reached, retries with backoff
 * while Vault is away (the old token serves meanwhile), and revokes it on shutdown. Timers are
 * unref'd and cleared by stop(). Nothing here logs a token.
 */
export class VaultTokenManager {
  private current: HeldToken | undefined;
  private acquiring: Promise<HeldToken> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly client: VaultClient,
    private readonly source: TokenSource,
    private readonly logger: VaultLog,
  ) {}

  /** A live token, obtaining one first if there is none (or it has expired). */
  async token(): Promise<string> {
    const held = this.current;
    if (held && !nearExpiry(held)) return held.token;
    return (await this.acquire()).token;
  }

  /**
   * `token` was refused (403). Asks Vault whether the token itself is dead; if so, obtains a new
   * one and answers true (worth one retry). False means the token is fine and the policy denies.
   */
  async rejected(token: string): Promise<boolean> {
    if (this.current && this.current.token !== token) return true;
    try {
      await this.client.lookupSelf(token);
      return false;
    } catch (err) {
      if (!(err instanceof VaultError) || err.kind !== 'permission-denied') throw err;
    }
    this.logger.warn(`Vault no longer accepts the broker's ${this.source.method} token; obtaining a new one`);
    if (this.current?.token === token) this.current = undefined;
    await this.acquire();
    return true;
  }

  /** Clears the timers and revokes a token the broker logged in for. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const held = this.current;
    this.current = undefined;
    if (!held || !this.source.canLogin || held.expiresAt === null || nearExpiry(held)) return;
    await this.client.revokeSelf(held.token).catch((err: Error) => {
      this.logger.warn(`token not revoked at shutdown: ${err.message}`);
    });
  }

  private acquire(): Promise<HeldToken> {
    this.acquiring ??= this.source
      .obtain(this.client)
      .then((obtained) => {
        const held = hold(obtained, Date.now(), false);
        if (this.stopped) return held;
        this.current = held;
        this.failures = 0;
        this.logger.log(
          `Vault ${this.source.method} token obtained (ttl ${obtained.leaseSeconds || 'none'}${obtained.leaseSeconds ? 's' : ''}, ${obtained.renewable ? 'renewable' : 'not renewable'})`,
        );
        this.schedule(held);
        return held;
      })
      .finally(() => (this.acquiring = undefined));
    return this.acquiring;
  }

  private schedule(held: HeldToken): void {
    clearTimeout(this.timer);
    if (this.stopped || held.expiresAt === null) return;
    const delay = held.leaseSeconds * 1000 * RENEW_AT();
    if (held.renewable && !held.capped) this.later(delay, () => this.renew(held));
    else if (this.source.canLogin) this.later(delay, () => this.relogin());
    // A static token that cannot be renewed is read again from its source once it expires.
  }

  private async renew(held: HeldToken): Promise<void> {
    if (this.stopped || this.current !== held) return;
    try {
      const auth = await this.client.renewSelf(held.token, held.incrementSeconds);
      if (this.stopped || this.current !== held) return;
      const capped = auth.leaseDurationSeconds < held.incrementSeconds;
      const renewed = hold({ ...held, leaseSeconds: auth.leaseDurationSeconds, renewable: auth.renewable }, Date.now(), capped);
      this.current = renewed;
      this.failures = 0;
      if (capped) {
        this.logger.log(
          `Vault token renewed up to its max TTL (${auth.leaseDurationSeconds}s left); ${this.source.canLogin ? 'logging in again before then' : 'the token source is read again when it expires'}`,
        );
      }
      this.schedule(renewed);
    } catch (err) {
      if (this.stopped || this.current !== held) return;
      const message = (err as Error).message;
      if (err instanceof VaultError && !err.storeLevel) {
        // Revoked, expired or not renewable: only a new token helps.
        this.logger.warn(`Vault token renewal refused (${message}); ${this.source.canLogin ? 'logging in again' : 'reading the token again'}`);
        this.current = undefined;
        if (this.source.canLogin) await this.relogin();
        return;
      }
      if (remainingMs(held) <= MIN_RETRY_MS) {
        this.logger.warn(
          `Vault token renewal failed (${message}) and the token is about to expire; ${this.source.canLogin ? 'logging in again' : 'reading the token again on next use'}`,
        );
        this.current = undefined;
        if (this.source.canLogin) await this.relogin();
        return;
      }
      const wait = Math.max(MIN_RETRY_MS, Math.min(this.backoff(), remainingMs(held) / 2));
      this.logger.warn(`Vault token renewal failed (${message}); retrying in ${Math.round(wait)} ms`);
      this.later(wait, () => this.renew(held));
    }
  }

  private async relogin(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.acquire();
    } catch (err) {
      if (this.stopped) return;
      const wait = this.backoff();
      this.logger.warn(`Vault ${this.source.method} login failed (${(err as Error).message}); retrying in ${wait} ms`);
      this.later(wait, () => this.relogin());
    }
  }

  private backoff(): number {
    this.failures++;
    return Math.min(MAX_RETRY_MS, 500 * 2 ** Math.min(this.failures, 8));
  }

  private later(ms: number, run: () => Promise<void>): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void run(), Math.max(0, ms));
    this.timer.unref();
  }
}

function hold(obtained: ObtainedToken, now: number, capped: boolean): HeldToken {
  return { ...obtained, expiresAt: obtained.leaseSeconds > 0 ? now + obtained.leaseSeconds * 1000 : null, capped };
}

function remainingMs(held: HeldToken): number {
  return held.expiresAt === null ? Number.POSITIVE_INFINITY : Math.max(0, held.expiresAt - Date.now());
}

function nearExpiry(held: HeldToken): boolean {
  return held.expiresAt !== null && held.expiresAt - Date.now() <= EXPIRY_MARGIN_MS;
}
