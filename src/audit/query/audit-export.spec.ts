import type { EventRow } from '../event-row';
import { exportStream, readAhead } from './audit-export';

function row(id: number): EventRow {
  return [
    String(id),
    '2026-11-23T12:00:00.000Z',
    'session.issued',
    'issued',
    null,
    'device',
    'd',
    '0882819014',
    '{"command": "doDeal"}',
    `r${id}`,
    null,
    '=cmd',
    '000',
    null,
    '5',
    null,
    null,
  ];
}

/** A source of `batches` batches of 1,000 rows that counts how many were pulled. */
function counted(batches: number) {
  const state = { pulled: 0, returned: false };
  async function* source(): AsyncGenerator<EventRow[]> {
    try {
      for (let b = 0; b < batches; b++) {
        state.pulled++;
        await new Promise((r) => setTimeout(r, 1));
        yield Array.from({ length: 1_000 }, (_, i) => row(b * 1_000 + i));
      }
    } finally {
      state.returned = true;
    }
  }
  return { state, source: source() };
}

describe('audit export stream', () => {
  it('reads only as fast as the consumer takes (plus one batch ahead)', async () => {
    const { state, source } = counted(50);
    const stream = exportStream(source, 'csv');
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    stream.pause();
    expect(first.toString()).toMatch(/^id,occurredAt,/);
    await new Promise((r) => setTimeout(r, 100));
    // Nobody is reading: a couple of batches at most were fetched, not all fifty.
    expect(state.pulled).toBeLessThanOrEqual(4);
    stream.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect(state.returned).toBe(true);
  });

  it('writes every row, CSV with formulas neutralised, NDJSON as JSON objects', async () => {
    const csv = await text(exportStream(counted(3).source, 'csv'));
    const lines = csv.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + 3_000);
    // Every text cell quoted (";" locales), ids and latencies as numbers.
    expect(lines[1]).toBe(
      `0,"2026-11-23T12:00:00.000Z","session.issued","issued",,"device","d","0882819014","{""command"": ""doDeal""}","r0",,"'=cmd","000",,5,,`,
    );
    const ndjson = (await text(exportStream(counted(2).source, 'ndjson'))).trimEnd().split('\n');
    expect(ndjson).toHaveLength(2_000);
    expect(JSON.parse(ndjson[1999])).toMatchObject({ id: '1999', userAgent: '=cmd', scope: { command: 'doDeal' }, latencyMs: 5 });
  });

  it('fails the stream when reading fails', async () => {
    async function* failing(): AsyncGenerator<EventRow[]> {
      yield [row(1)];
      throw new Error('connection lost');
    }
    await expect(text(exportStream(failing(), 'ndjson'))).rejects.toThrow('connection lost');
  });
});

describe('readAhead', () => {
  it('asks for the next item before the current one is consumed', async () => {
    const asked: number[] = [];
    async function* source() {
      for (let i = 0; i < 3; i++) {
        asked.push(i);
        yield i;
      }
    }
    const seen: Array<[number, number[]]> = [];
    for await (const v of readAhead(source())) seen.push([v, [...asked]]);
    expect(seen).toEqual([
      [0, [0, 1]],
      [1, [0, 1, 2]],
      [2, [0, 1, 2]],
    ]);
  });
});

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString();
  return out;
}
