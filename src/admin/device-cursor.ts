import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json';
import { ValidationError } from '../common/errors';
import type { DeviceFilter, DevicePosition } from '../devices/device.repository';

const FORMAT = /^d1\.(\d{1,15})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{12})$/;

/**
 * The device list's keyset cursor, opaque to clients: base64url of where a page ended (the
 * enrolled-at time and id of its last device), a hash of the filters (a cursor cannot silently be
 * replayed against another query) and a checksum of both, so a truncated or edited cursor is
 * refused rather than read as some other position. The checksum is not a secret: a forged cursor
 * is only a position in a list its caller may read in full anyway.
 */
export function encodeDeviceCursor(position: DevicePosition, filter: DeviceFilter): string {
  const body = `d1.${position.createdAt.getTime()}.${position.id}.${filterKey(filter)}`;
  return Buffer.from(`${body}.${digest(body)}`, 'utf8').toString('base64url');
}

/** The position a cursor names; ValidationError (400) when it is malformed, edited or for other filters. */
export function decodeDeviceCursor(cursor: string, filter: DeviceFilter): DevicePosition {
  const bad = (why: string) => new ValidationError(`The cursor is not valid: ${why}.`, [{ path: 'cursor', message: why }]);
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad('not a cursor this API issued');
  const match = FORMAT.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw bad('not a cursor this API issued');
  const [, ms, id, key, check] = match;
  if (check !== digest(`d1.${ms}.${id}.${key}`)) throw bad('not a cursor this API issued');
  const createdAt = new Date(Number(ms));
  if (Number.isNaN(createdAt.getTime())) throw bad('not a cursor this API issued');
  if (key !== filterKey(filter)) throw bad('it belongs to a list with other filters');
  return { createdAt, id };
}

function filterKey(filter: DeviceFilter): string {
  const defined = Object.fromEntries(
    Object.entries(filter)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]),
  );
  return digest(canonicalJson(defined));
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 12);
}
