import { GroupCommit, isDataError } from './group-commit';

describe('GroupCommit', () => {
  it('writes concurrent submissions in one flush and gives each caller its own result', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      return items.map((i) => i * 10);
    }, 100);
    const results = await Promise.all([1, 2, 3, 4].map((i) => gc.submit(i)));
    expect(results).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
    expect(gc.flushes).toBe(1);
  });

  it('groups what arrives during a flush into the next one, bounded by maxBatch', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gc = new GroupCommit<number, void>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
      return items.map(() => undefined);
    }, 3);
    const first = gc.submit(0);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const later = [1, 2, 3, 4, 5].map((i) => gc.submit(i));
    release();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([[0], [1, 2, 3], [4, 5]]);
  });

  it('fails every caller of a failed batch, and recovers for the next', async () => {
    let fail = true;
    const gc = new GroupCommit<number, number>(async (items) => {
      if (fail) throw new Error('db down');
      return items;
    }, 10);
    const failed = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(gc.submit(3)).resolves.toBe(3);
    await gc.drain();
  });
});

describe('GroupCommit: a data error fails only the item that caused it', () => {
  /** Fails like Postgres on a row it refuses (SQLSTATE 23514), whatever else is in the batch. */
  const refusing = (bad: (i: number) => boolean, code = '23514') => {
    const batches: number[][] = [];
    const flush = async (items: number[]) => {
      batches.push(items);
      if (items.some(bad)) throw Object.assign(new Error('new row violates check constraint'), { code });
      return items.map((i) => i * 10);
    };
    return { batches, flush };
  };

  it('retries a batch with a refused item so that every other caller succeeds', async () => {
    const { batches, flush } = refusing((i) => i === 7);
    const gc = new GroupCommit<number, number>(flush, 100);
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => gc.submit(i)));
    expect(settled.map((s) => s.status)).toEqual(Array.from({ length: 20 }, (_, i) => (i === 7 ? 'rejected' : 'fulfilled')));
    expect(settled.filter((s) => s.status === 'fulfilled').map((s) => s.value)).toEqual(Array.from({ length: 20 }, (_, i) => i * 10).filter((v) => v !== 70));
    expect((settled[7] as PromiseRejectedResult).reason).toMatchObject({ code: '23514' });
    // Every good item written exactly once, in submission order.
    const written = batches.filter((b) => !b.includes(7)).flat();
    expect(written).toEqual(Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 7));
    // Halving, not one round trip per item.
    expect(batches.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(20)));
  });

  it('finds the error code in a wrapped cause (22021, a NUL byte) and isolates several bad items', async () => {
    const { flush } = refusing((i) => i % 5 === 0, '22021');
    const gc = new GroupCommit<number, number>(async (items) => {
      try {
        return await flush(items);
      } catch (err) {
        throw new Error('audit store unavailable', { cause: err });
      }
    }, 100);
    const settled = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => gc.submit(i)));
    expect(settled.map((s) => s.status)).toEqual(Array.from({ length: 12 }, (_, i) => (i % 5 === 0 ? 'rejected' : 'fulfilled')));
  });

  it('still fails the whole batch, without retrying, when the database is unavailable', async () => {
    const batches: number[][] = [];
    const gc = new GroupCommit<number, number>(async (items) => {
      batches.push(items);
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    }, 100);
    const settled = await Promise.allSettled([1, 2, 3].map((i) => gc.submit(i)));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(batches).toEqual([[1, 2, 3]]);
    // A server-side timeout (57014) or shutdown (57P01) is not the data's fault either.
    for (const code of ['57014', '57P01', '08006']) expect(isDataError(Object.assign(new Error('x'), { code }))).toBe(false);
    for (const code of ['22021', '22P02', '22P05', '23514', '23505']) expect(isDataError(Object.assign(new Error('x'), { code }))).toBe(true);
  });
});
