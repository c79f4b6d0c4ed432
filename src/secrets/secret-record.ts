import { inspect } from 'node:util';

export type SecretRecord = Readonly<Record<string, string>>;

const REDACTED = '[redacted]';

/**
 * Freezes a secret's fields and makes accidental serialisation harmless: JSON.stringify, pino and
 * util.inspect (console.log, error formatting) all print "[redacted]". Only explicit field access
 * (`record.password`) reads a value.
 */
export function sealSecret(fields: Record<string, string>): SecretRecord {
  const record = { ...fields };
  Object.defineProperty(record, 'toJSON', { value: () => REDACTED, enumerable: false });
  Object.defineProperty(record, inspect.custom, { value: () => REDACTED, enumerable: false });
  Object.defineProperty(record, 'toString', { value: () => REDACTED, enumerable: false });
  return Object.freeze(record);
}
