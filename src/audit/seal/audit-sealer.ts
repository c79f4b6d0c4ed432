import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import type { EventRow } from '../event-row';
import { GENESIS_HASH, SEAL_VERSION, SealedEvents, sealHash, type SealHeader } from './seal-format';
import { SealRepository, type StoredSeal } from './seal.repository';
import type { SealSigningKey } from './seal-keys';
import { SealSigner } from './seal-signer';

/**
 * How long before the newest seal's earliest event the next events may have occurred. An event's
 * occurred_at is taken before its id: by the group-commit queue (milliseconds), an admin change's
 * transaction (seconds), or an aggregated auth refusal, stamped with its last refusal and written
 * up to AUTH_REFUSAL_AUDIT_INTERVAL_MS (at most an hour) later. Only the partitions from this far
 * back are read; an event older still (a write retried after an outage) is found by the exact read.
 */
const OCCURRED_BEFORE_ID_MARGIN_MS = 2 * 3_600_000;

export interface SealSummary {
  seq: string;
  firstEventId: string;
  lastEventId: string;
  eventCount: number;
  hash: string;
}

/**
 * Seals committed events in id order, each seal covering every event since the previous one and
 * carrying its hash. Sealing only reads events, so writers never wait for it. Instances need no
 * lock between them: the seal's seq and first event id are unique, so of two instances sealing
 * the same range at once, one insert wins and the other is dropped.
 */
@Injectable()
export class AuditSealer {
  private readonly maxEvents: number;
  /** The key this instance last published as current (activateKey), so it is activated once. */
  private activeKid: string | undefined;

  constructor(
    private readonly repo: SealRepository,
    private readonly signer: SealSigner,
    config: AppConfig,
  ) {
    this.maxEvents = config.values.AUDIT_SEAL_MAX_EVENTS;
  }

  /**
   * Seals everything up to `watermark` (see SealRepository.allocatedWatermark), which the caller
   * read at least the settle delay ago: an id allocated then but still not committed now is
   * taken to be rolled back and recorded as a gap. Returns the seals made, oldest first.
   */
  async sealUpTo(watermark: bigint, shouldStop: () => boolean = () => false): Promise<SealSummary[]> {
    const made: SealSummary[] = [];
    while (!shouldStop()) {
      const seal = await this.sealNext(watermark);
      if (!seal) break;
      made.push(seal);
    }
    return made;
  }

  /**
   * Makes at most one seal (at most AUDIT_SEAL_MAX_EVENTS events); null when nothing is left, or
   * when another instance stored the next seal first (it then carries on from there).
   */
  async sealNext(watermark: bigint): Promise<SealSummary | null> {
    const head = await this.repo.head();
    const after = head?.lastEventId ?? 0n;
    if (watermark <= after) return null;
    const events = await this.unsealedEvents(head, watermark);
    if (events.length === 0) return null;
    const sealed = new SealedEvents(after + 1n);
    for (const event of events) sealed.add(event);
    const parts = sealed.finish();
    const header: SealHeader = {
      version: SEAL_VERSION,
      seq: String((head?.seq ?? 0n) + 1n),
      firstEventId: String(after + 1n),
      lastEventId: String(sealed.lastEventId),
      eventCount: sealed.count,
      gaps: parts.gaps,
      minOccurredAt: parts.minOccurredAt,
      maxOccurredAt: parts.maxOccurredAt,
      eventsDigest: parts.eventsDigest,
      prevHash: head?.hash ?? GENESIS_HASH,
      sealedAt: new Date().toISOString(),
    };
    const hash = sealHash(header);
    const key = await this.currentKey();
    const seal: StoredSeal = { ...header, hash, kid: key.kid, alg: key.alg, signature: key.sign(hash), locators: parts.locators };
    if (!(await this.repo.insertSeal(seal))) {
      // Another instance sealed first, or (rarely) rotated the key since: check it is still current.
      await this.activate(key);
      return null;
    }
    return { seq: seal.seq, firstEventId: seal.firstEventId, lastEventId: seal.lastEventId, eventCount: seal.eventCount, hash };
  }

  /**
   * The next events after the newest seal, in id order. Read first from the partitions of recent
   * time only (audit_event is partitioned by occurred_at); when that read accounts for every id up
   * to its last one, nothing can be missing from the range it covers. An id it skips is either a
   * rolled-back insert or an event that occurred earlier than the bound: then the range is read
   * again without the bound, from every partition, so that such an event is sealed, not taken for
   * a gap.
   */
  private async unsealedEvents(head: { lastEventId: bigint; minOccurredAt: string } | null, watermark: bigint): Promise<EventRow[]> {
    const after = head?.lastEventId ?? 0n;
    if (!head) return this.repo.eventsAfter(after, watermark, this.maxEvents);
    const since = new Date(Date.parse(head.minOccurredAt) - OCCURRED_BEFORE_ID_MARGIN_MS).toISOString();
    const recent = await this.repo.eventsAfter(after, watermark, this.maxEvents, since);
    const last = recent.length === 0 ? after : BigInt(recent[recent.length - 1][0] as string);
    if (recent.length > 0 && last - after === BigInt(recent.length)) return recent;
    return this.repo.eventsAfter(after, watermark, this.maxEvents);
  }

  /** The signing key from the secret store, published (and older keys retired) the first time it is used. */
  private async currentKey(): Promise<SealSigningKey> {
    const key = await this.signer.signingKey();
    if (key.kid !== this.activeKid) {
      await this.activate(key);
      this.activeKid = key.kid;
    }
    return key;
  }

  private async activate(key: SealSigningKey): Promise<void> {
    const state = await this.repo.activateKey(key, new Date().toISOString());
    if (!state.active) {
      this.activeKid = undefined;
      // Never sign with a replaced key: the secret store still serves it to this instance (a cache
      // not yet refreshed, or the old key written back). Sealing resumes once it serves the new one.
      throw new Error(`the audit seal key ${key.kid} was replaced at ${String(state.validTo)}; not sealing until the secret store serves the current key`);
    }
  }
}
