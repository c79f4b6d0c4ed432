import { createHash } from 'node:crypto';
import { canonicalJson } from '../../common/canonical-json';
import { type EventRow, type EventTuple, toTuple } from '../event-row';

/**
 * Version of the event and seal serialisation below, stored in every seal and covered by its hash.
 * 2: signed with an asymmetric key (seal-keys.ts). 1: the same serialisation HMAC-signed, as
 * written before; still verified by the broker, never written again.
 */
export const SEAL_VERSION = 2;
export const HMAC_SEAL_VERSION = 1;
/** prev_hash of the very first seal. */
export const GENESIS_HASH = '0'.repeat(64);
/**
 * Bytes of each event's hash kept in its seal, in id order. They only locate a change: the full
 * 32-byte hashes feed events_digest, so integrity never rests on these 8 bytes.
 */
export const LOCATOR_BYTES = 8;

/** Every field a seal's hash covers. Ids are decimal strings (BIGINT), hashes hex. */
export interface SealHeader {
  version: number;
  seq: string;
  firstEventId: string;
  lastEventId: string;
  eventCount: number;
  /** Inclusive id ranges inside [firstEventId, lastEventId] that held no committed event when sealed. */
  gaps: Array<[string, string]>;
  minOccurredAt: string;
  maxOccurredAt: string;
  eventsDigest: string;
  prevHash: string;
  sealedAt: string;
}

/**
 * SHA-256 of the event's canonical JSON: the array of its values, JSON columns parsed and written
 * canonically, so the hash depends on what the event says, not on how Postgres printed it.
 */
export function eventHash(event: EventTuple): Buffer {
  return createHash('sha256').update(canonicalJson(event), 'utf8').digest();
}

export function rowHash(row: EventRow): Buffer {
  return eventHash(toTuple(row));
}

export function sealHash(header: SealHeader): string {
  return createHash('sha256').update(canonicalJson(header), 'utf8').digest('hex');
}

/** Hashes the events of one seal in id order: their digest, locators, time span and id gaps. */
export class SealedEvents {
  private readonly digest = createHash('sha256');
  private readonly locatorChunks: Buffer[] = [];
  private readonly gapList: Array<[string, string]> = [];
  private next: bigint;
  private minAt: string | undefined;
  private maxAt: string | undefined;
  count = 0;

  /** `firstEventId`: the id right after the previous seal's last one. */
  constructor(readonly firstEventId: bigint) {
    this.next = firstEventId;
  }

  add(event: EventRow): void {
    const id = BigInt(event[0] as string);
    if (id < this.next) throw new Error(`events out of order: ${id} after ${this.next - 1n}`);
    if (id > this.next) this.gapList.push([String(this.next), String(id - 1n)]);
    this.next = id + 1n;
    const hash = rowHash(event);
    this.digest.update(hash);
    this.locatorChunks.push(hash.subarray(0, LOCATOR_BYTES));
    // ISO-8601 UTC strings of one fixed width compare like the instants they name.
    const at = event[1] as string;
    if (this.minAt === undefined || at < this.minAt) this.minAt = at;
    if (this.maxAt === undefined || at > this.maxAt) this.maxAt = at;
    this.count++;
  }

  get lastEventId(): bigint {
    return this.next - 1n;
  }

  finish(): { eventsDigest: string; locators: Buffer; gaps: Array<[string, string]>; minOccurredAt: string; maxOccurredAt: string } {
    if (this.count === 0 || this.minAt === undefined || this.maxAt === undefined) throw new Error('a seal covers at least one event');
    return {
      eventsDigest: this.digest.digest('hex'),
      locators: Buffer.concat(this.locatorChunks),
      gaps: this.gapList,
      minOccurredAt: this.minAt,
      maxOccurredAt: this.maxAt,
    };
  }
}

/** The ids a seal says existed: its range minus its gaps, ascending. */
export function* expectedIds(firstEventId: bigint, lastEventId: bigint, gaps: ReadonlyArray<readonly [string, string]>): Generator<bigint> {
  let id = firstEventId;
  for (const [from, to] of gaps) {
    for (const gapStart = BigInt(from); id < gapStart; id++) yield id;
    id = BigInt(to) + 1n;
  }
  for (; id <= lastEventId; id++) yield id;
}
