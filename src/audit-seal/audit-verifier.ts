import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { RateLimitedError } from '../common/errors';
import type { EventRow } from './event-row';
import { GENESIS_HASH, LOCATOR_BYTES, SEAL_VERSION, expectedIds, rowHash, sealHash, type SealHeader } from './seal-format';
import { SealRepository, type StoredSeal } from './seal.repository';
import { SealSigner } from './seal-signer';

export type VerifyProblemKind =
  | 'missing-seal'
  | 'broken-link'
  | 'altered-seal'
  | 'unsupported-version'
  | 'unknown-key'
  | 'bad-signature'
  | 'missing-event'
  | 'altered-event'
  | 'unexpected-event';

export interface VerifyProblem {
  kind: VerifyProblemKind;
  /** The seal where the chain first fails. */
  sealSeq: string;
  /** The event, when one can be named. */
  eventId?: string;
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  from: string | null;
  to: string | null;
  sealsChecked: number;
  eventsChecked: number;
  firstSealSeq: string | null;
  lastSealSeq: string | null;
  /** The newest seal: record its hash elsewhere to detect a later truncation of the chain's end. */
  newestSeal: { seq: string; hash: string; lastEventId: string; sealedAt: string } | null;
  /** Events after the newest seal, not yet covered (younger than the settle delay plus one interval). */
  unsealedEvents: number;
  problem?: VerifyProblem;
}

const SEALS_PER_READ = 20;

/** Recomputes the seal chain over a time range and reports the first missing or altered event or seal. */
@Injectable()
export class AuditVerifier {
  private running = 0;

  constructor(
    private readonly repo: SealRepository,
    private readonly signer: SealSigner,
  ) {}

  async verify(range: { from?: string; to?: string }): Promise<VerifyReport> {
    // One full verification keeps a core busy; a second one at the same time only halves both.
    if (this.running > 0) throw new RateLimitedError('A verification is already running on this instance; retry when it has finished.', 10);
    this.running++;
    try {
      return await this.run(range);
    } finally {
      this.running--;
    }
  }

  private async run(range: { from?: string; to?: string }): Promise<VerifyReport> {
    const report: VerifyReport = {
      ok: true,
      from: range.from ?? null,
      to: range.to ?? null,
      sealsChecked: 0,
      eventsChecked: 0,
      firstSealSeq: null,
      lastSealSeq: null,
      newestSeal: null,
      unsealedEvents: 0,
    };
    const fail = (problem: VerifyProblem): VerifyReport => Object.assign(report, { ok: false, problem });

    const [seqs, newest] = await Promise.all([this.repo.seqRange(range.from, range.to), this.newestSeal()]);
    report.newestSeal = newest;
    if (newest) report.unsealedEvents = await this.repo.countEventsAfter(BigInt(newest.lastEventId));
    if (!seqs) return report;
    report.firstSealSeq = String(seqs.first);
    report.lastSealSeq = String(seqs.last);

    let prev = { hash: GENESIS_HASH, lastEventId: 0n };
    if (seqs.first > 1n) {
      const anchor = await this.repo.anchor(seqs.first - 1n);
      if (!anchor) {
        return fail({ kind: 'missing-seal', sealSeq: String(seqs.first - 1n), detail: 'The seal before the range is neither stored nor recorded by retention.' });
      }
      prev = anchor;
    }

    let expectedSeq = seqs.first;
    for (let start = seqs.first; start <= seqs.last; start += BigInt(SEALS_PER_READ)) {
      const end = start + BigInt(SEALS_PER_READ) - 1n < seqs.last ? start + BigInt(SEALS_PER_READ) - 1n : seqs.last;
      const seals = await this.repo.seals(start, end);
      // The events of the next seal are read while this one is hashed.
      let pending = this.readEvents(seals[0]);
      for (let i = 0; i < seals.length; i++) {
        const seal = seals[i];
        const events = pending;
        pending = this.readEvents(seals[i + 1]);
        if (BigInt(seal.seq) !== expectedSeq) {
          return fail({ kind: 'missing-seal', sealSeq: String(expectedSeq), detail: `Seal ${expectedSeq} is missing from the chain.` });
        }
        const sealProblem = this.checkSeal(seal, prev);
        if (sealProblem) return fail(sealProblem);
        const eventProblem = this.checkEvents(seal, (await events) ?? []);
        report.sealsChecked++;
        report.eventsChecked += seal.eventCount;
        if (eventProblem) return fail(eventProblem);
        prev = { hash: seal.hash, lastEventId: BigInt(seal.lastEventId) };
        expectedSeq++;
      }
      if (expectedSeq <= end) {
        return fail({ kind: 'missing-seal', sealSeq: String(expectedSeq), detail: `Seal ${expectedSeq} is missing from the chain.` });
      }
    }
    return report;
  }

  private readEvents(seal: StoredSeal | undefined): Promise<EventRow[] | undefined> {
    if (!seal) return Promise.resolve(undefined);
    const read = this.repo.eventsBetween(BigInt(seal.firstEventId), BigInt(seal.lastEventId));
    // Settled later or abandoned when an earlier seal fails; never an unhandled rejection.
    read.catch(() => undefined);
    return read;
  }

  private async newestSeal(): Promise<VerifyReport['newestSeal']> {
    const head = await this.repo.head();
    if (!head) return null;
    const [seal] = await this.repo.seals(head.seq, head.seq);
    return seal ? { seq: seal.seq, hash: seal.hash, lastEventId: seal.lastEventId, sealedAt: seal.sealedAt } : null;
  }

  private checkSeal(seal: StoredSeal, prev: { hash: string; lastEventId: bigint }): VerifyProblem | undefined {
    const at = (kind: VerifyProblemKind, detail: string): VerifyProblem => ({ kind, sealSeq: seal.seq, detail });
    if (seal.version !== SEAL_VERSION) return at('unsupported-version', `Seal format version ${seal.version} is not known to this broker.`);
    if (BigInt(seal.firstEventId) !== prev.lastEventId + 1n) {
      return at('broken-link', `The seal starts at event ${seal.firstEventId}; the previous one ended at ${prev.lastEventId}.`);
    }
    if (seal.prevHash !== prev.hash) return at('broken-link', 'The seal does not carry the previous seal’s hash.');
    if (sealHash(headerOf(seal)) !== seal.hash) return at('altered-seal', 'The seal’s fields do not match its hash.');
    if (seal.keyId !== this.signer.keyId) return at('unknown-key', `The seal was signed with key ${seal.keyId}, not the current audit key.`);
    if (!this.signer.verify(seal.hash, seal.signature)) return at('bad-signature', 'The seal’s signature does not match its hash.');
    if (seal.locators.length !== seal.eventCount * LOCATOR_BYTES) return at('altered-seal', 'The seal’s event locators do not match its event count.');
    return undefined;
  }

  private checkEvents(seal: StoredSeal, events: EventRow[]): VerifyProblem | undefined {
    const at = (kind: VerifyProblemKind, eventId: bigint | string, detail: string): VerifyProblem => ({
      kind,
      sealSeq: seal.seq,
      eventId: String(eventId),
      detail,
    });
    const digest = createHash('sha256');
    let i = 0;
    let k = 0;
    for (const id of expectedIds(BigInt(seal.firstEventId), BigInt(seal.lastEventId), seal.gaps)) {
      const event = events[i];
      const eventId = event === undefined ? undefined : BigInt(event[0] as string);
      if (eventId !== undefined && eventId < id) return at('unexpected-event', eventId, 'An event the seal says did not exist when it was sealed.');
      if (eventId === undefined || eventId > id) return at('missing-event', id, 'A sealed event is gone.');
      if (k >= seal.eventCount) return at('altered-seal', id, 'The seal lists more events than it counts.');
      const hash = rowHash(event);
      if (hash.compare(seal.locators, k * LOCATOR_BYTES, (k + 1) * LOCATOR_BYTES, 0, LOCATOR_BYTES) !== 0) {
        return at('altered-event', id, 'The event differs from what was sealed.');
      }
      digest.update(hash);
      i++;
      k++;
    }
    if (i < events.length) return at('unexpected-event', events[i][0] as string, 'An event the seal says did not exist when it was sealed.');
    if (k !== seal.eventCount) return { kind: 'altered-seal', sealSeq: seal.seq, detail: 'The seal counts more events than its range holds.' };
    if (digest.digest('hex') !== seal.eventsDigest) {
      return { kind: 'altered-event', sealSeq: seal.seq, detail: 'The sealed events differ from what was sealed (no single event located).' };
    }
    return undefined;
  }
}

function headerOf(s: StoredSeal): SealHeader {
  return {
    version: s.version,
    seq: s.seq,
    firstEventId: s.firstEventId,
    lastEventId: s.lastEventId,
    eventCount: s.eventCount,
    gaps: s.gaps,
    minOccurredAt: s.minOccurredAt,
    maxOccurredAt: s.maxOccurredAt,
    eventsDigest: s.eventsDigest,
    prevHash: s.prevHash,
    sealedAt: s.sealedAt,
  };
}
