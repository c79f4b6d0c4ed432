import { GroupCommit } from './group-commit';

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
