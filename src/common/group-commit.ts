/**
 * Batches concurrent writes into one round trip. Items queued while a flush is in flight go
 * together in the next one; every caller still gets its own result (or the batch's error) once
 * its batch is done. One flush runs at a time per instance, which is what makes the batches grow
 * under load (group commit) while a lone request waits for no timer.
 */
export class GroupCommit<T, R> {
  private queue: Array<{ item: T; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private running: Promise<void> | undefined;
  /** Flushes completed (for tests and metrics). */
  flushes = 0;

  constructor(
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch: number,
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
        const batch = this.queue.splice(0, this.maxBatch);
        try {
          const results = await this.flush(batch.map((b) => b.item));
          this.flushes++;
          batch.forEach((b, i) => b.resolve(results[i]));
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
