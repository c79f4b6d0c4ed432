import { Inject, Injectable } from '@nestjs/common';
import { RateLimitedError } from '../../common/errors';
import type { EventRow } from '../event-row';
import { checkSealEvents, checkSealLink, checkSealSignature, type ChainLink, type HashedEvent, type VerifyProblem } from './seal-check';
import { GENESIS_HASH, HMAC_SEAL_VERSION, rowHash } from './seal-format';
import { type SealVerificationKey, verificationKeyFromJwk } from './seal-keys';
import { AUDIT_READ_SEALS, type EventCensus, SealRepository, type StoredSeal } from './seal.repository';
import { SealSigner } from './seal-signer';

export type { VerifyProblem, VerifyProblemKind } from './seal-check';

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
  /**
   * Where the checked chain starts when retention removed the seals before it (and their events,
   * whole partitions at a time): the purged seal whose hash the first checked seal chains to, as
   * the retention record keeps it. Absent when the range starts at a stored seal or at the genesis.
   */
  anchor?: { throughSealSeq: string; throughEventId: string; hash: string; source: 'retention' };
  problem?: VerifyProblem;
}

const SEALS_PER_READ = 20;

type SeqRange = { first: bigint; last: bigint };

/** Recomputes the seal chain over a time range and reports the first missing or altered event or seal. */
@Injectable()
export class AuditVerifier {
  private running = 0;

  constructor(
    // Verify reads every event of its range: on the auditor reads' database (a replica when configured).
    @Inject(AUDIT_READ_SEALS) private readonly repo: SealRepository,
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
    const [seqs, newest] = await Promise.all([this.repo.seqRange(range.from, range.to), this.newestSeal()]);
    report.newestSeal = newest;
    // Counted beside the seal-by-seal reads. Before the first seal every event is unsealed: counted from id 0.
    const census = this.repo.eventCensus(seqs, newest ? BigInt(newest.lastEventId) : 0n);
    census.catch(() => undefined);
    const chain = seqs ? await this.checkChain(seqs, report) : undefined;
    const counts = await census;
    report.unsealedEvents = counts.unsealed;
    const problem = seqs && chain ? await this.firstProblem(seqs, chain, counts) : undefined;
    return problem ? Object.assign(report, { ok: false, problem }) : report;
  }

  /**
   * The seals first..last in order: each present, linked to the one before, signed, and its events
   * exactly those sealed. Stops at the first problem; `checkedThrough` is the last event id of the
   * last seal that passed.
   */
  private async checkChain(seqs: SeqRange, report: VerifyReport): Promise<{ problem?: VerifyProblem; checkedThrough: bigint }> {
    const keys = await this.publishedKeys();
    report.firstSealSeq = String(seqs.first);
    report.lastSealSeq = String(seqs.last);

    let prev: ChainLink = { hash: GENESIS_HASH, lastEventId: 0n, signedBefore: false };
    const fail = (problem: VerifyProblem) => ({ problem, checkedThrough: prev.lastEventId });
    if (seqs.first > 1n) {
      const anchor = await this.repo.anchor(seqs.first - 1n);
      if (!anchor) {
        return fail({
          kind: 'missing-seal',
          sealSeq: String(seqs.first - 1n),
          detail: 'The seal before the range is neither stored nor recorded by retention.',
        });
      }
      prev = { hash: anchor.hash, lastEventId: anchor.lastEventId, signedBefore: anchor.version !== null && anchor.version > HMAC_SEAL_VERSION };
      // A null version: the seal itself is gone and its retention record is the anchor.
      if (anchor.version === null) {
        report.anchor = { throughSealSeq: String(seqs.first - 1n), throughEventId: String(anchor.lastEventId), hash: anchor.hash, source: 'retention' };
      }
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
        const sealProblem = checkSealLink(seal, prev) ?? this.checkSignature(seal, keys);
        if (sealProblem) return fail(sealProblem);
        const eventProblem = await this.checkEvents(seal, (await events) ?? []);
        report.sealsChecked++;
        report.eventsChecked += seal.eventCount;
        if (eventProblem) return fail(eventProblem);
        prev = { hash: seal.hash, lastEventId: BigInt(seal.lastEventId), signedBefore: prev.signedBefore || seal.version > HMAC_SEAL_VERSION };
        expectedSeq++;
      }
      if (expectedSeq <= end) {
        return fail({ kind: 'missing-seal', sealSeq: String(expectedSeq), detail: `Seal ${expectedSeq} is missing from the chain.` });
      }
    }
    return { checkedThrough: prev.lastEventId };
  }

  /**
   * The seal-by-seal reads see only each seal's time span: a row written under a sealed event's id
   * with a time outside that span (audit_event's key is id and occurred_at) is in none of them.
   * The census counts every row of the seals' id range in every partition: more rows than the
   * seals count means such a row exists. The lowest id held twice among the seals that passed is
   * then found, and its seal read over every partition names it; that comes before a problem the
   * chain found later on. A difference no second row explains (the rows changed while verify ran)
   * is a problem too, unless the chain already named one.
   */
  private async firstProblem(
    seqs: SeqRange,
    chain: { problem?: VerifyProblem; checkedThrough: bigint },
    counts: EventCensus,
  ): Promise<VerifyProblem | undefined> {
    if (counts.rows === counts.sealed) return chain.problem;
    if (counts.firstEventId !== null && chain.checkedThrough >= counts.firstEventId) {
      const id = await this.repo.firstDuplicateId(counts.firstEventId, chain.checkedThrough);
      const seal = id === null ? undefined : await this.repo.sealCovering(id);
      const problem = seal ? await this.checkEveryPartition(seal) : undefined;
      if (problem) return problem;
    }
    return (
      chain.problem ?? {
        kind: counts.rows > counts.sealed ? 'unexpected-event' : 'missing-event',
        sealSeq: String(seqs.first),
        detail: `Seals ${seqs.first}..${seqs.last} count ${counts.sealed} events, but ${counts.rows} rows carry ids in their range, and no single event could be named (did the trail change while verify ran?).`,
      }
    );
  }

  /**
   * A seal's events, from the partitions of its signed time span only (audit_event is partitioned
   * by occurred_at; the id range alone would probe every partition). An event moved out of that
   * span is then absent and reported; a second row under a sealed id outside the span is found by
   * the census (firstProblem). A seal with gaps is read from every partition: an event written
   * later into one of its gaps is reported whatever time it claims.
   */
  private readEvents(seal: StoredSeal | undefined): Promise<EventRow[] | undefined> {
    if (!seal) return Promise.resolve(undefined);
    const span = seal.gaps.length === 0 ? { from: seal.minOccurredAt, to: seal.maxOccurredAt } : undefined;
    const read = this.repo.eventsBetween(BigInt(seal.firstEventId), BigInt(seal.lastEventId), span);
    // Settled later or abandoned when an earlier seal fails; never an unhandled rejection.
    read.catch(() => undefined);
    return read;
  }

  /** Once a problem is found in the span's events, the whole id range names it exactly (an event moved in time is altered, not gone). */
  private async checkEvents(seal: StoredSeal, inSpan: EventRow[]): Promise<VerifyProblem | undefined> {
    const problem = checkSealEvents(seal, hashed(inSpan));
    if (!problem) return undefined;
    return seal.gaps.length > 0 ? withRowTimes(problem, seal, inSpan) : this.checkEveryPartition(seal);
  }

  /** The seal's events read by id range alone, from every partition. */
  private async checkEveryPartition(seal: StoredSeal): Promise<VerifyProblem | undefined> {
    const rows = await this.repo.eventsBetween(BigInt(seal.firstEventId), BigInt(seal.lastEventId));
    const problem = checkSealEvents(seal, hashed(rows));
    return problem && withRowTimes(problem, seal, rows);
  }

  private async newestSeal(): Promise<VerifyReport['newestSeal']> {
    const head = await this.repo.head();
    if (!head) return null;
    const [seal] = await this.repo.seals(head.seq, head.seq);
    return seal ? { seq: seal.seq, hash: seal.hash, lastEventId: seal.lastEventId, sealedAt: seal.sealedAt } : null;
  }

  /** Version 2: the published key the seal names. Version 1: the HMAC key, which only the broker holds. */
  private checkSignature(seal: StoredSeal, keys: ReadonlyMap<string, SealVerificationKey>): VerifyProblem | undefined {
    if (seal.version !== HMAC_SEAL_VERSION) return checkSealSignature(seal, keys);
    const at = (kind: VerifyProblem['kind'], detail: string): VerifyProblem => ({ kind, sealSeq: seal.seq, detail });
    if (seal.kid !== this.signer.hmacSealKeyId) return at('unknown-key', `The seal was signed with HMAC key ${seal.kid}, not the current audit key.`);
    if (!this.signer.verifyHmac(seal.hash, seal.signature)) return at('bad-signature', 'The seal’s signature does not match its hash.');
    return undefined;
  }

  private async publishedKeys(): Promise<Map<string, SealVerificationKey>> {
    const keys = new Map<string, SealVerificationKey>();
    for (const jwk of await this.repo.signingKeys()) {
      try {
        keys.set(jwk.kid, verificationKeyFromJwk(jwk as unknown as Record<string, unknown>));
      } catch {
        // A key that does not check out (its kid is not its thumbprint…) verifies nothing: its seals report unknown-key.
      }
    }
    return keys;
  }
}

function hashed(rows: EventRow[]): HashedEvent[] {
  const out = new Array<HashedEvent>(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = { id: BigInt(rows[i][0] as string), hash: rowHash(rows[i]) };
  return out;
}

/** A problem naming an id that two or more rows carry, told when each occurred and what span the seal signed. */
function withRowTimes(problem: VerifyProblem, seal: StoredSeal, rows: EventRow[]): VerifyProblem {
  const times = rows.filter((r) => r[0] === problem.eventId).map((r) => r[1] as string);
  if (times.length < 2) return problem;
  return {
    ...problem,
    detail: `${problem.detail} Its rows occurred at ${times.join(' and ')}; the seal’s events span ${seal.minOccurredAt} to ${seal.maxOccurredAt}.`,
  };
}
