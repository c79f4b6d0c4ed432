import { createHash } from 'node:crypto';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { ConflictError, DependencyUnavailableError } from '../common/errors';
import { RecurringJob } from '../common/recurring-job';
import { AppConfig } from '../config/app-config';
import { readAuditKeyMaterial } from '../audit/audit-key';
import { SecretsProvider } from '../secrets/secrets-provider';
import { IdempotencyStore } from './idempotency-store';
import { ResponseCipher } from './response-cipher';
import { canonicalJson } from '../common/canonical-json';

const POLL_MS = 50;
const PURGE_EVERY_MS = 60_000;

/**
 * Idempotency-Key on POST /v1/sessions, with Stripe's semantics: the same device, key and body
 * within the session's lifetime get the same response without a second gateway call, also on
 * another instance and also while the first call is still in flight (the retry waits for it);
 * the same key with another body is a 409. Failures are not stored: a retry runs again.
 */
@Injectable()
export class IdempotentIssuance implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Idempotency');
  private cipher: ResponseCipher | undefined;
  /** Only for a store that does not expire records itself (IdempotencyStore.purgeExpired). */
  private readonly purgeJob: RecurringJob | undefined;

  constructor(
    private readonly store: IdempotencyStore,
    private readonly secrets: SecretsProvider,
    private readonly config: AppConfig,
    scheduler: SchedulerRegistry,
  ) {
    const purge = store.purgeExpired?.bind(store);
    this.purgeJob =
      purge &&
      new RecurringJob(scheduler, {
        name: 'idempotency.purge-expired',
        everyMs: PURGE_EVERY_MS,
        run: purge,
        logger: this.logger,
        what: 'purging expired idempotency records',
      });
  }

  async onModuleInit(): Promise<void> {
    this.cipher = new ResponseCipher(await readAuditKeyMaterial(this.secrets, this.config));
    this.purgeJob?.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.purgeJob?.stop();
  }

  /**
   * `deadline` (epoch ms): the request's; a retry waiting for the first request gives up there.
   * `replay`: runs on every stored response before it is handed out again (the caller re-checks
   * that the device may still have it, and records the replay); what it returns is the answer.
   */
  async run<T extends { expiresAt: string | null }>(
    deviceId: string,
    key: string,
    body: unknown,
    issue: () => Promise<T>,
    deadline = Date.now() + this.config.values.REQUEST_DEADLINE_MS,
    replay: (stored: T) => Promise<T> = (stored) => Promise.resolve(stored),
  ): Promise<T> {
    const hash = createHash('sha256').update(canonicalJson(body)).digest('hex');
    const aad = `${deviceId}:${key}`;
    for (;;) {
      const state = await this.guard(() => this.store.begin(deviceId, key, hash, this.config.values.REQUEST_DEADLINE_MS + 5_000));
      if (state.kind === 'started') return this.runFirst(deviceId, key, hash, aad, issue);
      if (state.requestHash !== hash) throw new ConflictError('This Idempotency-Key was used with a different request.');
      if (state.kind === 'completed') return replay(JSON.parse(this.cipher!.decrypt(state.response, aad)) as T);
      // Another request with this key is still in flight (maybe on another instance): wait for it.
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        const now = await this.guard(() => this.store.read(deviceId, key));
        if (now === undefined) break; // it failed and released the key: try to run it ourselves
        if (now.kind === 'completed') {
          if (now.requestHash !== hash) throw new ConflictError('This Idempotency-Key was used with a different request.');
          return replay(JSON.parse(this.cipher!.decrypt(now.response, aad)) as T);
        }
      }
      if (Date.now() >= deadline) throw new ConflictError('A request with this Idempotency-Key is still in progress.');
    }
  }

  private async runFirst<T extends { expiresAt: string | null }>(
    deviceId: string,
    key: string,
    hash: string,
    aad: string,
    issue: () => Promise<T>,
  ): Promise<T> {
    let result: T;
    try {
      result = await issue();
    } catch (err) {
      await this.store.release(deviceId, key).catch(() => undefined);
      throw err;
    }
    // Kept exactly as long as the session it holds can be used.
    const ttlMs = result.expiresAt === null ? 24 * 3_600_000 : Math.max(1_000, Date.parse(result.expiresAt) - Date.now());
    await this.store.complete(deviceId, key, hash, this.cipher!.encrypt(JSON.stringify(result), aad), ttlMs).catch((err: Error) => {
      // The session was issued and audited; only a retry's deduplication is lost.
      this.logger.warn(`idempotency record not stored: ${err.message}`);
    });
    return result;
  }

  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw new DependencyUnavailableError('Idempotency records are unavailable; retry later.', 2, { cause: err });
    }
  }
}
