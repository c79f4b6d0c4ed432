import { SchedulerRegistry } from '@nestjs/schedule';
import { RecurringJob } from './recurring-job';

const PERIOD = 1_000;

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('RecurringJob', () => {
  let registry: SchedulerRegistry;
  let warnings: string[];
  const logger = { warn: (message: string) => void warnings.push(message) };

  beforeEach(() => {
    jest.useFakeTimers();
    registry = new SchedulerRegistry();
    warnings = [];
  });
  afterEach(() => jest.useRealTimers());

  function job(run: (signal: AbortSignal) => Promise<unknown> | void): RecurringJob {
    return new RecurringJob(registry, { name: 'test.job', everyMs: PERIOD, run, logger, what: 'testing' });
  }

  it('is registered under its name while it runs, and removed by stop()', async () => {
    const j = job(() => undefined);
    j.start();
    expect(registry.getIntervals()).toEqual(['test.job']);
    await j.stop();
    expect(registry.getIntervals()).toEqual([]);
  });

  it('runs every period, and at once with runNow', async () => {
    let runs = 0;
    const j = job(() => void runs++);
    j.start({ runNow: true });
    await jest.advanceTimersByTimeAsync(0);
    expect(runs).toBe(1);
    await jest.advanceTimersByTimeAsync(3 * PERIOD);
    expect(runs).toBe(4);
    await j.stop();
  });

  it('a slow run does not overlap itself: ticks while it runs are skipped', async () => {
    const slow = deferred();
    let started = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const j = job(async () => {
      started++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      if (started === 1) await slow.promise;
      concurrent--;
    });
    j.start();
    await jest.advanceTimersByTimeAsync(5 * PERIOD);
    expect(started).toBe(1);
    slow.resolve();
    await jest.advanceTimersByTimeAsync(PERIOD);
    expect(started).toBe(2);
    expect(maxConcurrent).toBe(1);
    await j.stop();
  });

  it('a failed run is logged with its message, and the next tick runs again', async () => {
    let runs = 0;
    const j = job(() => {
      runs++;
      if (runs === 1) throw new Error('database is restarting');
    });
    j.start();
    await jest.advanceTimersByTimeAsync(PERIOD);
    expect(warnings).toEqual([`testing failed (retried in ${PERIOD} ms): database is restarting`]);
    await jest.advanceTimersByTimeAsync(PERIOD);
    expect(runs).toBe(2);
    expect(warnings).toHaveLength(1);
    await j.stop();
  });

  it('stop() aborts the run in flight through its signal, waits for it, and logs no failure for it', async () => {
    let finished = false;
    const j = job(async (signal) => {
      await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
      finished = true;
    });
    j.start({ runNow: true });
    await jest.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = j.stop().then(() => (stopped = true));
    await stopping;
    expect(stopped).toBe(true);
    expect(finished).toBe(false);
    expect(warnings).toEqual([]);
    // Stopped for good: no more runs, and start() does not bring it back.
    j.start();
    expect(registry.getIntervals()).toEqual([]);
  });

  it('stop() waits for a run that ignores the signal to finish', async () => {
    const slow = deferred();
    let finished = false;
    const j = job(async () => {
      await slow.promise;
      finished = true;
    });
    j.start({ runNow: true });
    await jest.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = j.stop().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    slow.resolve();
    await stopping;
    expect(finished).toBe(true);
  });

  it('refuses a name already taken in the registry, leaving no timer behind', () => {
    registry.addInterval(
      'test.job',
      setInterval(() => undefined, PERIOD),
    );
    expect(() => job(() => undefined).start()).toThrow();
    expect(jest.getTimerCount()).toBe(1);
    registry.deleteInterval('test.job');
  });
});
