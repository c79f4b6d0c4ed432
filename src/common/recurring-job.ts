import { SchedulerRegistry } from '@nestjs/schedule';

export interface RecurringJobOptions {
  /** The interval's name in the SchedulerRegistry (unique per application). */
  readonly name: string;
  readonly everyMs: number;
  /** One run. `signal` aborts when the job is stopped: a long run should give up early then. */
  readonly run: (signal: AbortSignal) => Promise<unknown> | void;
  /** Where a failed run is reported (its message only: errors here carry no secrets by design). */
  readonly logger: { warn(message: string): void };
  /** Names the run in the failure line ("purging expired replay records"). */
  readonly what: string;
}

/**
 * A background job run every `everyMs`, registered by name in @nestjs/schedule's SchedulerRegistry
 * (so Nest lists it and clears it at shutdown). What the library's own intervals do not give, and
 * every job here needs: a tick while the previous run is still going is skipped (a slow run never
 * overlaps itself), a failed run is logged and the next tick runs as usual, and `stop()` removes the
 * interval and waits for the run in flight, so none outlives the connections it uses. The timer is
 * unref'd: a job never keeps the process alive on its own.
 */
export class RecurringJob {
  private running: Promise<void> | undefined;
  private registered = false;
  private readonly stopping = new AbortController();

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly options: RecurringJobOptions,
  ) {}

  /**
   * Registers the interval (once; a second call does nothing, nor does one after `stop()`).
   * `runNow`: the first run starts at once instead of after one period.
   */
  start({ runNow = false } = {}): void {
    if (this.registered || this.stopping.signal.aborted) return;
    const timer = setInterval(() => void this.tick(), this.options.everyMs);
    timer.unref();
    try {
      this.registry.addInterval(this.options.name, timer);
    } catch (err) {
      clearInterval(timer); // the name is taken: a wiring mistake, reported as such
      throw err;
    }
    this.registered = true;
    if (runNow) void this.tick();
  }

  /** One run now, unless one is in flight already (then that one's completion). Never rejects. */
  tick(): Promise<void> {
    if (this.stopping.signal.aborted) return Promise.resolve();
    this.running ??= this.runOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Removes the interval, aborts the run in flight (through its signal) and waits for it to end. */
  async stop(): Promise<void> {
    this.stopping.abort();
    // Nest's own shutdown may have cleared the registry already (beforeApplicationShutdown).
    if (this.registered && this.registry.doesExist('interval', this.options.name)) this.registry.deleteInterval(this.options.name);
    this.registered = false;
    await this.running;
  }

  private async runOnce(): Promise<void> {
    const signal = this.stopping.signal;
    try {
      await this.options.run(signal);
    } catch (err) {
      // Stopping aborts the run on purpose; that is not a failure worth a line.
      if (signal.aborted) return;
      this.options.logger.warn(`${this.options.what} failed (retried in ${this.options.everyMs} ms): ${(err as Error)?.message ?? String(err)}`);
    }
  }
}
