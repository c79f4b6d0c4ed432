import { ValidationError } from '../../common/errors';
import { decodeCursor, encodeCursor } from './audit-cursor';

describe('audit cursor', () => {
  const position = { occurredAt: '2026-11-23T12:00:00.123Z', id: '9007199254740993' };

  it('round-trips a position, ids beyond 2^53 included', () => {
    const cursor = encodeCursor(position, { outcome: 'failed' });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, { outcome: 'failed' })).toEqual(position);
  });

  it('is bound to the filters of the query that issued it', () => {
    const cursor = encodeCursor(position, { outcome: 'failed' });
    expect(() => decodeCursor(cursor, { outcome: 'denied' })).toThrow(/other filters/);
    expect(() => decodeCursor(cursor, {})).toThrow(ValidationError);
  });

  it.each([
    ['garbage', 'not-a-cursor!'],
    ['base64 of something else', Buffer.from('hello').toString('base64url')],
    ['an id too large', Buffer.from('1.1700000000000.99999999999999999999.AAAAAAAAAAAA').toString('base64url')],
    ['an absurd time', Buffer.from('1.999999999999999.1.AAAAAAAAAAAA').toString('base64url')],
    ['another version', Buffer.from('2.1700000000000.1.AAAAAAAAAAAA').toString('base64url')],
  ])('refuses %s', (_, cursor) => {
    expect(() => decodeCursor(cursor, {})).toThrow(ValidationError);
  });
});
