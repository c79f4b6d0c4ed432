import { createHash, randomInt } from 'node:crypto';

/**
 * Enrollment codes: 13 random Crockford base32 symbols (65 bits) and a Luhn mod 32 check symbol,
 * shown in groups of four (`K7QM-3XPA-9D2F-WQ`). Crockford base32 has no I, L, O or U, so what a
 * person reads off a screen or a sheet of paper is what they type; the check symbol catches every
 * single mistyped symbol and most swapped neighbours before the database is asked.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_SYMBOLS = 13;
export const CODE_LENGTH = RANDOM_SYMBOLS + 1;
const VALUE = new Map([...ALPHABET].map((c, i) => [c, i]));

export function generateEnrollmentCode(): string {
  let data = '';
  for (let i = 0; i < RANDOM_SYMBOLS; i++) data += ALPHABET[randomInt(ALPHABET.length)];
  return formatCode(data + checkSymbol(data));
}

export type CodeReading = { ok: true; normalised: string } | { ok: false; reason: 'malformed-code' | 'bad-checksum' };

/**
 * Reads a code as typed: any case, spaces and dashes anywhere, and the letters Crockford reads as
 * digits (O as 0, I and L as 1).
 */
export function readEnrollmentCode(typed: string): CodeReading {
  const normalised = typed
    .toUpperCase()
    .replace(/[\s-]+/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
  if (normalised.length !== CODE_LENGTH || ![...normalised].every((c) => VALUE.has(c))) return { ok: false, reason: 'malformed-code' };
  if (checkSymbol(normalised.slice(0, -1)) !== normalised.slice(-1)) return { ok: false, reason: 'bad-checksum' };
  return { ok: true, normalised };
}

/** What the database keeps: the SHA-256 of the normalised code (65 random bits make a salt pointless). */
export function hashEnrollmentCode(normalised: string): string {
  return createHash('sha256').update(`psb-enrollment-code:${normalised}`).digest('hex');
}

function formatCode(normalised: string): string {
  return normalised.match(/.{1,4}/g)!.join('-');
}

/** Luhn mod N (N = 32) over the symbol values. */
function checkSymbol(data: string): string {
  const n = ALPHABET.length;
  let factor = 2;
  let sum = 0;
  for (let i = data.length - 1; i >= 0; i--) {
    const addend = factor * VALUE.get(data[i])!;
    factor = factor === 2 ? 1 : 2;
    sum += Math.floor(addend / n) + (addend % n);
  }
  return ALPHABET[(n - (sum % n)) % n];
}
