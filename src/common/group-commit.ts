/**
 * Batches concurrent writes into one round trip. Items queued while a flush is in flight go
 * together in the next one; every caller still gets its own result (or the batch's error) once
 * its batch is done. One flush runs at a time per instance, which is what makes the batches grow
 * under load (group commit) while a lone request waits for no timer.
 *
 * A batch that fails on its data (see isDataError) is split and flushed again, down to single
 * items where need be (see settle), so that one caller's input can only ever fail that caller:
 * the others' items are written as if it had not been there. Any other failure (database
 * unreachable, timeout) fails the whole batch, as every item would fail alike.
 */
interface Waiter<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit<T, R> {
  private queue: Array<Waiter<T, R>> = [];
  private running: Promise<void> | undefined;
  /** Flushes completed (for tests and metrics). */
  flushes = 0;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch: number,
    private readonly isItemError: (err: unknown) => boolean = isDataError,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.running ??= this.loop();
    });
  }

  /** Resolves once everything submitted so far has been flushed. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    // Let the rest of this tick's requests join the first batch.
    await new Promise<void>((r) => setImmediate(r));
    try {
      while (this.queue.length > 0) {
        await this.settle(this.queue.splice(0, this.maxBatch));
      }
    } finally {
      this.running = undefined;
    }
  }

  /**
   * Flushes `batch` and settles each caller. On a data error, the two halves are flushed again
   * (first half first, so that order-dependent results such as "first claim wins" stay as they
   * were), down to single items: a bad item costs about 2·log2(batch) extra round trips.
   */
  private async settle(batch: Array<Waiter<T, R>>): Promise<void> {
    try {
      const results = await this.flush(batch.map((b) => b.item));
      this.flushes++;
      batch.forEach((b, i) => b.resolve(results[i]));
    } catch (err) {
      if (batch.length > 1 && this.isItemError(err)) {
        const half = Math.ceil(batch.length / 2);
        await this.settle(batch.slice(0, half));
        await this.settle(batch.slice(half));
      } else {
        for (const b of batch) b.reject(err);
      }
    }
  }
}

/**
 * Did the database refuse the data itself: a SQLSTATE of class 22 (data exception: invalid
 * text, NUL byte, bad JSON...) or 23 (integrity constraint violation), on the error or anywhere
 * in its `cause` chain (writers wrap driver errors). Connection and timeout errors are not.
 */
export function isDataError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
  }
  return false;
}
