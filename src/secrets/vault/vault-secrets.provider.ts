import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { DependencyUnavailableError } from '../../common/errors';
import { RecurringJob } from '../../common/recurring-job';
import { sealSecret, type SecretRecord } from '../secret-record';
import { SecretsProvider } from '../secrets-provider';
import { InvalidCredentialRefError, parseCredentialRef, pickFields } from './credential-ref';
import type { VaultLog, VaultTokenManager } from './vault-auth';
import type { KvSecret, VaultClient } from './vault-client';
import { CredentialsUnavailableError, SecretStoreUnavailableError, VaultError, storeProblem } from './vault-errors';

export interface VaultSecretsOptions {
  /** KV v2 mount the credential references live in. */
  readonly mount: string;
  /** A value younger than this is used without asking Vault (ms). 0: ask on every use. */
  readonly cacheTtlMs: number;
  /** While Vault cannot be read, a value keeps serving until it is this old (ms); then 503. */
  readonly maxStalenessMs: number;
}

interface Entry {
  readonly record: SecretRecord;
  readonly version: number;
  fetchedAt: number;
  usedAt: number;
  staleLogged: boolean;
}

/**
 * Credentials from Vault KV v2, cached in memory only. Within the TTL a value is used as is;
 * values in use are re-read in the background before the TTL runs out, so a new version written
 * to Vault (a rotated password) is in use within the TTL. While Vault is unreachable, sealed or
 * refusing the broker, cached values keep serving up to the max staleness, then that terminal
 * gets 503. A missing, denied or malformed secret affects its own terminal only. The cache is
 * hand-written rather than lru-cache: it needs per-entry versions, "serve stale only when the
 * store is down" and a second age limit, which lru-cache's fetch does not model.
 */
export class VaultSecretsProvider extends SecretsProvider implements OnModuleInit, OnApplicationShutdown {
  readonly name = 'vault';
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new Map<string, Promise<Entry>>();
  /** The background refresh; none with a TTL of 0 (every use asks Vault). */
  private readonly sweeper: RecurringJob | undefined;
  /** The store-level failure Vault is in, if any (logged once when it starts and ends). */
  private problem: VaultError | undefined;
  private closed = false;

  constructor(
    private readonly client: VaultClient,
    private readonly auth: VaultTokenManager,
    private readonly options: VaultSecretsOptions,
    private readonly logger: VaultLog = new Logger('VaultSecrets'),
    /** The application's (Nest); used on its own (tests, tools), the provider keeps a registry of its own. */
    scheduler: SchedulerRegistry = new SchedulerRegistry(),
  ) {
    super();
    this.sweeper =
      options.cacheTtlMs === 0
        ? undefined
        : new RecurringJob(scheduler, {
            name: 'vault-secrets.refresh',
            everyMs: Math.min(30_000, Math.max(100, Math.floor(options.cacheTtlMs / 4))),
            run: () => this.sweep(),
            logger,
            what: 'refreshing cached credentials',
          });
  }

  onModuleInit(): void {
    this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /** Starts the background refresh (idempotent). */
  start(): void {
    if (!this.closed) this.sweeper?.start();
  }

  /** Stops the timers, forgets every value, revokes the broker's token and closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sweeper?.stop();
    this.entries.clear();
    await this.auth.stop();
    await this.client.close();
  }

  async get(ref: string): Promise<SecretRecord> {
    const entry = this.entries.get(ref);
    if (entry) {
      const now = Date.now();
      const age = now - entry.fetchedAt;
      entry.usedAt = now;
      if (age < this.options.cacheTtlMs) return entry.record;
      // Vault is known to be down: answer from the cache at once and let a background read probe it.
      if (this.problem && age < this.options.maxStalenessMs) {
        this.load(ref).catch(() => undefined);
        this.noteStale(ref, entry, age);
        return entry.record;
      }
    }
    return (await this.loadOrStale(ref)).record;
  }

  async refresh(ref: string): Promise<SecretRecord> {
    return (await this.loadOrStale(ref)).record;
  }

  async check(): Promise<void> {
    try {
      const token = await this.auth.token();
      await this.client.lookupSelf(token).catch(async (err: unknown) => {
        if (!(err instanceof VaultError) || err.kind !== 'permission-denied' || !(await this.auth.rejected(token))) throw err;
      });
      this.storeUp();
    } catch (err) {
      if (!(err instanceof VaultError) || err.storeLevel) this.storeDown(err);
      throw new DependencyUnavailableError(storeProblem(err), 5, { cause: err });
    }
  }

  private async loadOrStale(ref: string): Promise<Entry> {
    try {
      return await this.load(ref);
    } catch (err) {
      if (err instanceof CredentialsUnavailableError) throw err;
      const entry = this.entries.get(ref);
      const age = entry ? Date.now() - entry.fetchedAt : Number.POSITIVE_INFINITY;
      if (entry && age < this.options.maxStalenessMs) {
        this.noteStale(ref, entry, age);
        return entry;
      }
      if (entry) this.expire(ref);
      throw new SecretStoreUnavailableError({ cause: err });
    }
  }

  /** One read per ref at a time: concurrent misses and refreshes share it. */
  private load(ref: string): Promise<Entry> {
    let pending = this.loads.get(ref);
    if (!pending) {
      pending = this.read(ref).finally(() => this.loads.delete(ref));
      this.loads.set(ref, pending);
    }
    return pending;
  }

  private async read(ref: string): Promise<Entry> {
    try {
      const parsed = parseCredentialRef(ref);
      const secret = await this.readKv(parsed.path);
      this.storeUp();
      const previous = this.entries.get(ref);
      const now = Date.now();
      if (previous && previous.version === secret.version) {
        previous.fetchedAt = now;
        previous.staleLogged = false;
        return previous;
      }
      const entry: Entry = {
        record: sealSecret(pickFields(parsed, secret.data)),
        version: secret.version,
        fetchedAt: now,
        usedAt: previous?.usedAt ?? now,
        staleLogged: false,
      };
      if (this.closed) return entry;
      this.entries.set(ref, entry);
      if (previous) this.logger.log(`credentials ${ref} changed in Vault: now version ${secret.version} (was ${previous.version})`);
      return entry;
    } catch (err) {
      if (err instanceof InvalidCredentialRefError || (err instanceof VaultError && !err.storeLevel)) {
        // This secret is gone, denied or malformed: stop serving it, whatever was cached.
        this.entries.delete(ref);
        const reason = err instanceof InvalidCredentialRefError ? err.reason : err.message;
        this.logger.warn(`credentials ${ref} are not available: ${reason}`);
        throw new CredentialsUnavailableError(ref, reason);
      }
      this.storeDown(err);
      throw err;
    }
  }

  private async readKv(path: string): Promise<KvSecret> {
    const token = await this.auth.token();
    try {
      return await this.client.readKv(this.options.mount, path, token);
    } catch (err) {
      // A 403 may mean the token died (revoked, expired early) rather than a policy denial.
      if (err instanceof VaultError && err.kind === 'permission-denied' && (await this.auth.rejected(token))) {
        return this.client.readKv(this.options.mount, path, await this.auth.token());
      }
      throw err;
    }
  }

  /** Re-reads values in use before their TTL runs out; drops values past the max staleness. */
  private sweep(): void {
    const now = Date.now();
    let probes = 0;
    for (const [ref, entry] of this.entries) {
      const age = now - entry.fetchedAt;
      if (age >= this.options.maxStalenessMs) {
        this.expire(ref);
        continue;
      }
      const due = age >= this.options.cacheTtlMs / 2 && entry.usedAt >= entry.fetchedAt;
      // While Vault is down one read per round is enough to notice it is back.
      if (!due || (this.problem && probes > 0)) continue;
      probes++;
      this.load(ref).catch(() => undefined);
    }
  }

  /** Past the max staleness: dropped. Worth an error only while Vault is down (idle values just age out). */
  private expire(ref: string): void {
    this.entries.delete(ref);
    if (this.problem) {
      this.logger.error(
        `cached credentials ${ref} passed the max staleness (${this.options.maxStalenessMs} ms) while Vault cannot be read: its terminal gets 503 until Vault is back`,
      );
    }
  }

  private noteStale(ref: string, entry: Entry, age: number): void {
    if (entry.staleLogged) return;
    entry.staleLogged = true;
    this.logger.warn(`serving cached credentials ${ref} (${Math.round(age / 1000)} s old) while Vault cannot be read`);
  }

  private storeUp(): void {
    if (!this.problem) return;
    this.problem = undefined;
    this.logger.log('Vault can be read again');
  }

  private storeDown(err: unknown): void {
    const problem = err instanceof VaultError ? err : new VaultError('read', 'bad-response', undefined, [(err as Error)?.message ?? '']);
    if (!this.problem) {
      this.logger.error(`Vault cannot be read (${problem.message}); cached credentials keep serving for up to ${this.options.maxStalenessMs} ms`);
    }
    this.problem = problem;
  }
}
