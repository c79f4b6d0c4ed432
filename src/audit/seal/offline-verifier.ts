import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { tupleOfView } from '../event-row';
import { type ChainLink, checkSealEvents, checkSealLink, checkSealSignature, type HashedEvent, type SealRecord, type VerifyProblem } from './seal-check';
import { GENESIS_HASH, HMAC_SEAL_VERSION, eventHash } from './seal-format';
import { type SealVerificationKey, verificationKeyFromJwk } from './seal-keys';

/**
 * `npm run -s cli -- audit:verify-export --events E --seals S --keys K`: checks an export of the
 * trail against the signed seal chain with nothing but the three files: no broker, no database,
 * no secret. The event hashing and every seal and event check are the broker's own (seal-format.ts,
 * seal-check.ts), so the tool accepts exactly what GET /v1/audit/verify accepts.
 *
 * Inputs: the NDJSON of GET /v1/audit/events/export?format=ndjson (any order: it is sorted by id),
 * the NDJSON of GET /v1/audit/seals (ascending seq) and the JWK Set of GET /v1/audit/signing-keys.
 */
export const VERIFY_EXPORT_USAGE = 'audit:verify-export --events FILE --seals FILE --keys FILE';

export interface OfflineVerifyResult {
  /** 0: the export matches the signed chain; 1: it does not (or an input is unreadable); 64: usage. */
  exitCode: 0 | 1 | 64;
  /** One line: the summary, or the first problem. */
  output: string;
}

class InputError extends Error {}

export async function runAuditVerifyExport(argv: string[]): Promise<OfflineVerifyResult> {
  let files: { events: string; seals: string; keys: string };
  try {
    const { values } = parseArgs({
      args: argv,
      options: { events: { type: 'string' }, seals: { type: 'string' }, keys: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    if (!values.events || !values.seals || !values.keys) throw new Error('--events, --seals and --keys are all required');
    files = { events: values.events, seals: values.seals, keys: values.keys };
  } catch (err) {
    return { exitCode: 64, output: `${(err as Error).message}\nusage: npm run -s cli -- ${VERIFY_EXPORT_USAGE}` };
  }
  try {
    const keys = await readKeys(files.keys);
    const seals = await readSeals(files.seals);
    const events = await readEvents(files.events);
    return verifyExport(events, seals, keys);
  } catch (err) {
    if (err instanceof InputError) return { exitCode: 1, output: `FAILED: ${err.message}` };
    return { exitCode: 1, output: `FAILED: ${(err as NodeJS.ErrnoException).code ?? 'error'}: ${(err as Error).message}` };
  }
}

function verifyExport(events: HashedEvent[], seals: SealRecord[], keys: Map<string, SealVerificationKey>): OfflineVerifyResult {
  const fail = (p: VerifyProblem): OfflineVerifyResult => ({
    exitCode: 1,
    output: `FAILED: ${p.kind}${p.eventId === undefined ? '' : ` event ${p.eventId}`} in seal ${p.sealSeq}: ${p.detail}`,
  });
  if (seals.length === 0) return { exitCode: 1, output: 'FAILED: the seals file holds no seal: nothing to verify against.' };

  events.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < events.length; i++) {
    if (events[i].id === events[i - 1].id) {
      const seal = seals.find((s) => BigInt(s.firstEventId) <= events[i].id && events[i].id <= BigInt(s.lastEventId));
      return fail({ kind: 'unexpected-event', sealSeq: seal?.seq ?? '-', eventId: String(events[i].id), detail: 'The event appears twice in the export.' });
    }
  }

  const first = seals[0];
  // From genesis, or from wherever the export starts (retention, or a range): its link back is taken as given.
  let prev: ChainLink =
    first.seq === '1'
      ? { hash: GENESIS_HASH, lastEventId: 0n, signedBefore: false }
      : { hash: first.prevHash, lastEventId: BigInt(first.firstEventId) - 1n, signedBefore: false };
  let expectedSeq = BigInt(first.seq);
  const before = countWhile(events, (ev) => ev.id <= prev.lastEventId);
  let e = before;
  let hmacSeals = 0;
  const unsigned: string[] = [];
  const kidsUsed = new Set<string>();

  for (const seal of seals) {
    if (BigInt(seal.seq) !== expectedSeq) {
      return fail({
        kind: 'missing-seal',
        sealSeq: String(expectedSeq),
        detail: `Seal ${expectedSeq} is missing from the chain (the next one is ${seal.seq}).`,
      });
    }
    const linkProblem = checkSealLink(seal, prev);
    if (linkProblem) return fail(linkProblem);
    if (seal.version === HMAC_SEAL_VERSION) {
      // Only the broker holds the HMAC key; the next signed seal signs this one's hash through the chain.
      hmacSeals++;
      unsigned.push(seal.seq);
    } else {
      const signatureProblem = checkSealSignature(seal, keys);
      if (signatureProblem) return fail(signatureProblem);
      kidsUsed.add(seal.kid);
      unsigned.length = 0;
    }
    const last = BigInt(seal.lastEventId);
    const start = e;
    while (e < events.length && events[e].id <= last) e++;
    const eventProblem = checkSealEvents(seal, events.slice(start, e));
    if (eventProblem) return fail(eventProblem);
    prev = { hash: seal.hash, lastEventId: last, signedBefore: prev.signedBefore || seal.version !== HMAC_SEAL_VERSION };
    expectedSeq++;
  }
  if (unsigned.length > 0) {
    return fail({
      kind: 'unsigned-seal',
      sealSeq: unsigned[0],
      detail: `Seals ${unsigned[0]}..${unsigned[unsigned.length - 1]} are HMAC seals (version 1) that no signed seal follows yet, so nothing here vouches for them; export again after the next seal.`,
    });
  }
  const after = events.length - e;
  const checked = e - before;
  const last = seals[seals.length - 1];
  const legacy = hmacSeals > 0 ? `, ${hmacSeals} HMAC seals of version 1 covered by the signed seals after them` : '';
  const start = first.seq === '1' ? 'from genesis' : `from seal ${first.seq} (its link to seal ${BigInt(first.seq) - 1n} is not in the export)`;
  const outside = [
    before > 0 ? `${before} events before seal ${first.seq} not checked` : '',
    after > 0 ? `${after} events after seal ${last.seq} not sealed yet` : '',
  ]
    .filter((s) => s !== '')
    .join(', ');
  return {
    exitCode: 0,
    output:
      `OK: ${checked} events match seals ${first.seq}..${last.seq} ${start}, signed by ${kidsUsed.size} key${kidsUsed.size === 1 ? '' : 's'} (${[...kidsUsed].join(', ')})` +
      `${legacy}; newest seal ${last.hash} (${last.sealedAt})${outside ? `; ${outside}` : ''}`,
  };
}

function countWhile<T>(items: T[], test: (item: T) => boolean): number {
  let n = 0;
  while (n < items.length && test(items[n])) n++;
  return n;
}

async function readKeys(path: string): Promise<Map<string, SealVerificationKey>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new InputError(`keys file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'not JSON'}`);
  }
  const list = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new InputError(`keys file ${path}: not a JWK Set ({ "keys": [...] })`);
  const keys = new Map<string, SealVerificationKey>();
  list.forEach((jwk: unknown, i) => {
    try {
      if (typeof jwk !== 'object' || jwk === null) throw new Error('is not an object');
      const key = verificationKeyFromJwk(jwk as Record<string, unknown>);
      keys.set(key.kid, key);
    } catch (err) {
      throw new InputError(`keys file ${path}: key ${i + 1} ${(err as Error).message}`);
    }
  });
  return keys;
}

async function* ndjson(path: string, what: string): AsyncGenerator<{ line: number; value: Record<string, unknown> }> {
  const input = createReadStream(path, { encoding: 'utf8' });
  let line = 0;
  try {
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new InputError(`${what} file ${path}, line ${line}: not JSON`);
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${what} file ${path}, line ${line}: not a JSON object`);
      yield { line, value: value as Record<string, unknown> };
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  } finally {
    input.destroy();
  }
}

async function readEvents(path: string): Promise<HashedEvent[]> {
  const out: HashedEvent[] = [];
  for await (const { line, value } of ndjson(path, 'events')) {
    try {
      const tuple = tupleOfView(value);
      out.push({ id: BigInt(tuple[0]), hash: eventHash(tuple) });
    } catch (err) {
      throw new InputError(`events file ${path}, line ${line}: ${(err as Error).message}`);
    }
  }
  return out;
}

const HEX64 = /^[0-9a-f]{64}$/;
const ID = /^[1-9]\d{0,18}$/;

async function readSeals(path: string): Promise<SealRecord[]> {
  const out: SealRecord[] = [];
  for await (const { line, value: v } of ndjson(path, 'seals')) {
    const bad = (field: string) => new InputError(`seals file ${path}, line ${line}: field "${field}" is missing or malformed`);
    const str = (field: string, pattern?: RegExp): string => {
      const x = v[field];
      if (typeof x !== 'string' || (pattern && !pattern.test(x))) throw bad(field);
      return x;
    };
    const int = (field: string): number => {
      const x = v[field];
      if (typeof x !== 'number' || !Number.isSafeInteger(x)) throw bad(field);
      return x;
    };
    const gaps = v.gaps;
    if (!Array.isArray(gaps) || !gaps.every((g) => Array.isArray(g) && g.length === 2 && g.every((x) => typeof x === 'string' && ID.test(x)))) {
      throw bad('gaps');
    }
    const seal: SealRecord = {
      version: int('version'),
      seq: str('seq', ID),
      firstEventId: str('firstEventId', ID),
      lastEventId: str('lastEventId', ID),
      eventCount: int('eventCount'),
      gaps: gaps as Array<[string, string]>,
      minOccurredAt: str('minOccurredAt'),
      maxOccurredAt: str('maxOccurredAt'),
      eventsDigest: str('eventsDigest', HEX64),
      prevHash: str('prevHash', HEX64),
      sealedAt: str('sealedAt'),
      hash: str('hash', HEX64),
      kid: str('kid'),
      alg: str('alg'),
      signature: Buffer.from(str('signature', /^[A-Za-z0-9_-]*$/), 'base64url'),
      locators: Buffer.from(str('locators', /^[A-Za-z0-9_-]*$/), 'base64url'),
    };
    if (out.length > 0 && BigInt(seal.seq) <= BigInt(out[out.length - 1].seq)) {
      throw new InputError(`seals file ${path}, line ${line}: seal ${seal.seq} is out of order (seals come in ascending seq)`);
    }
    out.push(seal);
  }
  return out;
}
