/**
 * A terminal's credential reference in Vault: `<path>` inside the configured KV v2 mount,
 * optionally followed by `?<field>=<key>&...` when a field the broker reads is stored under
 * another key, e.g. `merchants/0882819014` or `merchants/0882819014?username=user&password=pass`.
 * The record handed out holds every string value of the secret, with each named field taken
 * from its key.
 */
export interface CredentialRef {
  readonly path: string;
  /** [field the broker reads, key in the Vault secret]. */
  readonly keys: ReadonlyArray<readonly [string, string]>;
}

export class InvalidCredentialRefError extends Error {
  constructor(readonly reason: string) {
    super(`invalid credential reference: ${reason}`);
    this.name = 'InvalidCredentialRefError';
  }
}

const SEGMENT = /^[A-Za-z0-9_.@-]{1,128}$/;
const FIELD = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const KEY = /^[A-Za-z0-9_.@-]{1,128}$/;
const MAX_SEGMENTS = 32;

export function parseCredentialRef(ref: string): CredentialRef {
  if (ref.length === 0 || ref.length > 1024) throw new InvalidCredentialRefError('empty or longer than 1024 characters');
  const q = ref.indexOf('?');
  const path = q < 0 ? ref : ref.slice(0, q);
  const segments = path.split('/');
  if (segments.length > MAX_SEGMENTS) throw new InvalidCredentialRefError(`more than ${MAX_SEGMENTS} path segments`);
  for (const segment of segments) {
    // Also refuses empty segments (leading, trailing or doubled slashes) and "." / "..".
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw new InvalidCredentialRefError('the path must be segments of letters, digits, "_", ".", "@" or "-" separated by "/"');
    }
  }
  const keys: Array<readonly [string, string]> = [];
  if (q >= 0) {
    const query = ref.slice(q + 1);
    if (query === '') throw new InvalidCredentialRefError('empty key mapping after "?"');
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      const field = eq < 0 ? pair : pair.slice(0, eq);
      const key = eq < 0 ? '' : pair.slice(eq + 1);
      if (!FIELD.test(field)) throw new InvalidCredentialRefError(`"${field.slice(0, 64)}" is not a field name`);
      if (!KEY.test(key)) throw new InvalidCredentialRefError(`the key for "${field}" must be 1-128 letters, digits, "_", ".", "@" or "-"`);
      if (keys.some(([f]) => f === field)) throw new InvalidCredentialRefError(`"${field}" is mapped twice`);
      keys.push([field, key]);
    }
  }
  return { path, keys };
}

/** The fields handed out for `ref` from a secret's `data.data`; throws naming a missing key (never a value). */
export function pickFields(ref: CredentialRef, data: Readonly<Record<string, unknown>>): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) if (typeof v === 'string' && k !== '__proto__') fields[k] = v;
  for (const [field, key] of ref.keys) {
    const value = data[key];
    if (typeof value !== 'string') throw new InvalidCredentialRefError(`the secret has no string value under "${key}" (for "${field}")`);
    fields[field] = value;
  }
  return fields;
}
