import { ValidationError } from '../common/errors';
import { decodeDeviceCursor, encodeDeviceCursor } from './device-cursor';

describe('device list cursor', () => {
  const position = { createdAt: new Date('2026-11-30T08:00:00.123Z'), id: '6f1c2a4e-9b0d-4c3e-8a7f-1d2e3f4a5b6c' };
  const filter = { status: 'active' as const, nameContains: 'kiosk', notSeenSince: new Date('2026-11-29T00:00:00Z') };

  it('round-trips a position under the same filter (undefined members ignored)', () => {
    const cursor = encodeDeviceCursor(position, filter);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeDeviceCursor(cursor, { ...filter, terminalNumber: undefined })).toEqual(position);
  });

  it('is bound to the filter of the list that issued it', () => {
    const cursor = encodeDeviceCursor(position, filter);
    expect(() => decodeDeviceCursor(cursor, { ...filter, status: 'revoked' })).toThrow(/other filters/);
    expect(() => decodeDeviceCursor(cursor, { ...filter, notSeenSince: new Date('2026-11-29T00:00:01Z') })).toThrow(/other filters/);
    expect(() => decodeDeviceCursor(cursor, {})).toThrow(ValidationError);
  });

  const edit = (cursor: string, change: (text: string) => string) =>
    Buffer.from(change(Buffer.from(cursor, 'base64url').toString('utf8'))).toString('base64url');
  it.each([
    ['garbage', () => 'not a cursor!'],
    ['base64 of something else', () => Buffer.from('hello').toString('base64url')],
    ['a truncated cursor', (c: string) => c.slice(0, -3)],
    ['an edited time', (c: string) => edit(c, (t) => t.replace(/^d1\.(\d+)\./, (_, ms: string) => `d1.${Number(ms) + 1}.`))],
    ['an edited id', (c: string) => edit(c, (t) => t.replace('6f1c2a4e', '6f1c2a4f'))],
    ['an id that is no UUID', (c: string) => edit(c, (t) => t.replace('6f1c2a4e-', "'; drop--"))],
    ['another version', (c: string) => edit(c, (t) => t.replace(/^d1\./, 'd2.'))],
  ])('refuses %s', (_, make) => {
    const cursor = make(encodeDeviceCursor(position, filter));
    expect(() => decodeDeviceCursor(cursor, filter)).toThrow(/not a cursor this API issued/);
  });
});
