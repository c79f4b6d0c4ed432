import { createHash } from 'node:crypto';
import { HMAC_SEAL_VERSION, LOCATOR_BYTES, SEAL_VERSION, expectedIds, sealHash, type SealHeader } from './seal-format';
import { type SealVerificationKey, verifySealSignature, withinValidity } from './seal-keys';

/**
 * The checks of one seal and of its events, shared by the broker's GET /v1/audit/verify (events
 * from Postgres) and the offline verifier (events from an NDJSON export): one implementation, so
 * an auditor's tool accepts exactly what the broker accepts.
 */

/** A seal with everything needed to check it: the header its hash covers, then hash, key, signature, locators. */
export interface SealRecord extends SealHeader {
  hash: string;
  /** Key id: the RFC 7638 thumbprint of the signing key (version 2), the HMAC key's id (version 1). */
  kid: string;
  /** EdDSA or ES256 (version 2); HS256 for the HMAC seals of version 1. */
  alg: string;
  signature: Buffer;
  /** The first LOCATOR_BYTES of each event's hash, in id order (not signed: they only name a change). */
  locators: Buffer;
}

export type VerifyProblemKind =
  | 'missing-seal'
  | 'broken-link'
  | 'altered-seal'
  | 'unsupported-version'
  | 'unknown-key'
  | 'bad-signature'
  | 'unsigned-seal'
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

/** What the next seal must link to: the previous seal's hash and last event id (genesis: zeros, 0). */
export interface ChainLink {
  hash: string;
  lastEventId: bigint;
  /** Whether an asymmetrically signed seal came earlier in the chain (no HMAC seal may follow one). */
  signedBefore: boolean;
}

/** One event as a seal sees it: its id and the SHA-256 of its canonical form (seal-format.ts). */
export interface HashedEvent {
  id: bigint;
  hash: Buffer;
}

export function headerOf(s: SealHeader): SealHeader {
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

/** Version, link to the previous seal, the hash over the header, the locators' length. Not the signature. */
export function checkSealLink(seal: SealRecord, prev: ChainLink): VerifyProblem | undefined {
  const at = (kind: VerifyProblemKind, detail: string): VerifyProblem => ({ kind, sealSeq: seal.seq, detail });
  if (seal.version !== SEAL_VERSION && seal.version !== HMAC_SEAL_VERSION) {
    return at('unsupported-version', `Seal format version ${seal.version} is not known to this verifier.`);
  }
  // The version is under the hash, so relabelling a signed seal as an HMAC one breaks the chain.
  if (seal.version === HMAC_SEAL_VERSION && prev.signedBefore) {
    return at('unsupported-version', 'An HMAC seal (version 1) follows an asymmetrically signed one: seals are never downgraded.');
  }
  if (BigInt(seal.firstEventId) !== prev.lastEventId + 1n) {
    return at('broken-link', `The seal starts at event ${seal.firstEventId}; the previous one ended at ${prev.lastEventId}.`);
  }
  if (seal.prevHash !== prev.hash) return at('broken-link', 'The seal does not carry the previous seal’s hash.');
  if (sealHash(headerOf(seal)) !== seal.hash) return at('altered-seal', 'The seal’s fields do not match its hash.');
  if (seal.locators.length !== seal.eventCount * LOCATOR_BYTES) return at('altered-seal', 'The seal’s event locators do not match its event count.');
  return undefined;
}

/** The signature of a version 2 seal against the published keys (by kid), in its key's validity period. */
export function checkSealSignature(seal: SealRecord, keys: ReadonlyMap<string, SealVerificationKey>): VerifyProblem | undefined {
  const at = (kind: VerifyProblemKind, detail: string): VerifyProblem => ({ kind, sealSeq: seal.seq, detail });
  const key = keys.get(seal.kid);
  if (!key) return at('unknown-key', `The seal names key ${seal.kid}, which is not among the signing keys.`);
  if (seal.alg !== key.alg) return at('bad-signature', `The seal says ${seal.alg}; key ${seal.kid} signs ${key.alg}.`);
  if (!verifySealSignature(key, seal.hash, seal.signature)) return at('bad-signature', 'The seal’s signature does not match its hash.');
  if (!withinValidity(key, seal.sealedAt)) {
    return at('bad-signature', `The seal was made at ${seal.sealedAt}, outside the validity of key ${seal.kid} (${key.validFrom} to ${key.validTo ?? 'now'}).`);
  }
  return undefined;
}

/**
 * The events of one seal, in id order: exactly the ids its range and gaps name, each once and
 * matching its locator, all together its events digest. Names the first missing, unexpected
 * (a second row under an id included) or altered event.
 */
export function checkSealEvents(seal: SealRecord, events: readonly HashedEvent[]): VerifyProblem | undefined {
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
    if (event !== undefined && event.id < id) return at('unexpected-event', event.id, 'An event the seal says did not exist when it was sealed.');
    if (event === undefined || event.id > id) return at('missing-event', id, 'A sealed event is gone.');
    // Ids come from a sequence, once each: a second row under one (the key is id and occurred_at) was written naming it.
    if (events[i + 1]?.id === id) {
      return at('unexpected-event', id, 'The event id appears twice: every id is handed out once, so one of the two rows was written later under a sealed id.');
    }
    if (k >= seal.eventCount) return at('altered-seal', id, 'The seal lists more events than it counts.');
    if (event.hash.compare(seal.locators, k * LOCATOR_BYTES, (k + 1) * LOCATOR_BYTES, 0, LOCATOR_BYTES) !== 0) {
      return at('altered-event', id, 'The event differs from what was sealed.');
    }
    digest.update(event.hash);
    i++;
    k++;
  }
  if (i < events.length) return at('unexpected-event', events[i].id, 'An event the seal says did not exist when it was sealed.');
  if (k !== seal.eventCount) return { kind: 'altered-seal', sealSeq: seal.seq, detail: 'The seal counts more events than its range holds.' };
  if (digest.digest('hex') !== seal.eventsDigest) {
    return { kind: 'altered-event', sealSeq: seal.seq, detail: 'The sealed events differ from what was sealed (no single event located).' };
  }
  return undefined;
}

/** The NDJSON line of a seal in GET /v1/audit/seals (binary fields base64url, hashes hex). */
export interface SealExportLine extends SealHeader {
  hash: string;
  kid: string;
  alg: string;
  signature: string;
  locators: string;
}

export function sealExportLine(s: SealRecord): SealExportLine {
  return { ...headerOf(s), hash: s.hash, kid: s.kid, alg: s.alg, signature: s.signature.toString('base64url'), locators: s.locators.toString('base64url') };
}
