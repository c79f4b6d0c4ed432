import { type EventRow, ndjsonLine, toTuple, toView } from '../event-row';
import { LOCATOR_BYTES, SealedEvents, expectedIds, rowHash, sealHash, type SealHeader } from './seal-format';

function event(id: number, at = '2026-11-23T12:00:00.000Z', overrides: Record<number, string | null> = {}): EventRow {
  const row: EventRow = [
    String(id),
    at,
    'session.issued',
    'issued',
    null,
    'device',
    'dev-1',
    '0882819014',
    '{"command": "doDeal"}',
    `req-${id}`,
    '10.0.0.1',
    'pos/1',
    '000',
    'tran',
    '12',
    'f'.repeat(64),
    null,
  ];
  for (const [i, v] of Object.entries(overrides)) row[Number(i)] = v;
  return row;
}

describe('event rows', () => {
  it('parse the JSON columns and the latency', () => {
    const t = toTuple(event(1, undefined, { 16: '{"n": 1.5}' }));
    expect(t[8]).toEqual({ command: 'doDeal' });
    expect(t[14]).toBe(12);
    expect(t[16]).toEqual({ n: 1.5 });
    expect(toTuple(event(1, undefined, { 8: null, 14: null }))[14]).toBeNull();
  });

  it('write the same NDJSON object as the API view', () => {
    const row = event(7, undefined, { 4: 'a "quoted"\nreason', 7: 'back\\slash\ttab', 11: 'ua\u2028é\u0001', 16: '{"list": [1, "x"]}' });
    const line = ndjsonLine(row);
    expect(line.endsWith('}\n')).toBe(true);
    expect(JSON.parse(line)).toEqual(toView(row));
    // Byte for byte what JSON.stringify writes, apart from the JSON columns Postgres printed.
    expect(line).toBe(
      JSON.stringify({ ...toView(row), scope: 0, details: 1 })
        .replace('"scope":0', `"scope":${row[8]}`)
        .replace('"details":1', `"details":${row[16]}`) + '\n',
    );
    expect(toView(row)).toMatchObject({ id: '7', latencyMs: 12, scope: { command: 'doDeal' }, details: { list: [1, 'x'] } });
  });
});

describe('seal format', () => {
  it('hashes an event over every field', () => {
    const base = rowHash(event(1));
    expect(rowHash(event(1))).toEqual(base);
    for (let field = 0; field < 17; field++) {
      const value = field === 14 ? '13' : field === 8 || field === 16 ? '{"command": "refundDeal"}' : field === 0 ? '2' : `x${field}`;
      expect(rowHash(event(1, undefined, { [field]: value }))).not.toEqual(base);
    }
  });

  it('does not depend on how the JSON columns were printed', () => {
    expect(rowHash(event(1, undefined, { 8: '{"a":1,"b":2}' }))).toEqual(rowHash(event(1, undefined, { 8: '{"b": 2, "a": 1}' })));
  });

  it('records the ids missing from a run as gaps, and its time span', () => {
    const sealed = new SealedEvents(5n);
    const rows = [event(7, '2026-11-23T12:00:02.000Z'), event(8, '2026-11-23T12:00:01.000Z'), event(12, '2026-11-23T12:00:03.000Z')];
    for (const e of rows) sealed.add(e);
    const parts = sealed.finish();
    expect(parts.gaps).toEqual([
      ['5', '6'],
      ['9', '11'],
    ]);
    expect(sealed.count).toBe(3);
    expect(sealed.lastEventId).toBe(12n);
    expect(parts.minOccurredAt).toBe('2026-11-23T12:00:01.000Z');
    expect(parts.maxOccurredAt).toBe('2026-11-23T12:00:03.000Z');
    expect(parts.locators.length).toBe(3 * LOCATOR_BYTES);
    expect(parts.locators.subarray(0, LOCATOR_BYTES)).toEqual(rowHash(rows[0]).subarray(0, LOCATOR_BYTES));
    expect([...expectedIds(5n, 12n, parts.gaps)]).toEqual([7n, 8n, 12n]);
  });

  it('refuses events out of id order and an empty seal', () => {
    const sealed = new SealedEvents(1n);
    expect(() => sealed.finish()).toThrow();
    sealed.add(event(3));
    expect(() => sealed.add(event(2))).toThrow(/out of order/);
  });

  it('lists expected ids without gaps', () => {
    expect([...expectedIds(1n, 4n, [])]).toEqual([1n, 2n, 3n, 4n]);
    expect([...expectedIds(10n, 10n, [])]).toEqual([10n]);
  });

  it('changes the seal hash with any header field', () => {
    const header: SealHeader = {
      version: 1,
      seq: '1',
      firstEventId: '1',
      lastEventId: '3',
      eventCount: 3,
      gaps: [],
      minOccurredAt: 'a',
      maxOccurredAt: 'b',
      eventsDigest: 'c'.repeat(64),
      prevHash: '0'.repeat(64),
      sealedAt: 'd',
    };
    const base = sealHash(header);
    expect(sealHash({ ...header })).toBe(base);
    expect(sealHash({ ...header, gaps: [['2', '2']] })).not.toBe(base);
    expect(sealHash({ ...header, prevHash: '1'.repeat(64) })).not.toBe(base);
    expect(sealHash({ ...header, eventCount: 2 })).not.toBe(base);
  });
});
