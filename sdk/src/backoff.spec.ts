import { backoffDelay } from './backoff.js';
import { BrokerProblemError, BrokerUnreachableError, DeadlineExceededError, retryAfterSeconds } from './errors.js';
import { sendWithRetries, type Clock, type FetchLike } from './transport.js';

/** A clock that only moves when slept on, recording every wait. */
function fakeClock(start = 1_000_000): Clock & { sleeps: number[]; t: number } {
  const c = {
    t: start,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
      return Promise.resolve();
    },
  };
  return c;
}

function problem(status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ type: `https://errors.example/x-${status}`, title: `T${status}`, status, detail: `D${status}`, code: `c${status}` }), {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
  });
}

describe('backoff', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const opts = { baseDelayMs: 100, maxDelayMs: 1_000 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, opts, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, opts, () => 0)).toBe(0);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(400);
    expect(backoffDelay(1_000, opts, () => 0.5)).toBe(500);
  });

  it('never waits less than Retry-After', () => {
    expect(backoffDelay(0, { baseDelayMs: 100 }, () => 0.5, 3_000)).toBe(3_000);
    expect(backoffDelay(10, { baseDelayMs: 1_000, maxDelayMs: 8_000 }, () => 0.9, 2_000)).toBe(7_200);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterSeconds('7')).toBe(7);
    expect(retryAfterSeconds(new Date(Date.UTC(2026, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(30);
    expect(retryAfterSeconds(null)).toBeUndefined();
    expect(retryAfterSeconds('soon')).toBeUndefined();
  });
});

describe('sendWithRetries', () => {
  const build = () => Promise.resolve({ method: 'POST', headers: {}, body: '{}' });

  it('retries 503, 429 and network errors with backoff, honouring Retry-After, until success', async () => {
    const clock = fakeClock();
    const answers: Array<() => Response> = [
      () => problem(503),
      () => problem(429, { 'retry-after': '3' }),
      () => {
        throw new TypeError('fetch failed');
      },
      () => new Response('{"ok":true}', { status: 201 }),
    ];
    let calls = 0;
    const fetch: FetchLike = () => Promise.resolve().then(() => answers[calls++]());
    const res = await sendWithRetries({ fetch, clock, random: () => 0.5, retry: { baseDelayMs: 100, maxDelayMs: 10_000 } }, 'http://b/x', build);
    expect(res.status).toBe(201);
    expect(calls).toBe(4);
    // 0.5 × 100; max(3 s, 0.5 × 200); 0.5 × 400.
    expect(clock.sleeps).toEqual([50, 3_000, 200]);
  });

  it('does not retry other problems, and types them from the problem+json', async () => {
    let calls = 0;
    const fetch: FetchLike = () => (calls++, Promise.resolve(problem(400)));
    const err = await sendWithRetries({ fetch, clock: fakeClock(), random: () => 0.5, retry: {} }, 'http://b/x', build).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(err).toBeInstanceOf(BrokerProblemError);
    expect(err).toMatchObject({ status: 400, type: 'https://errors.example/x-400', title: 'T400', detail: 'D400', code: 'c400', retryable: false });
  });

  it('describes a non-JSON error answer as a problem too', async () => {
    const fetch: FetchLike = () => Promise.resolve(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const err = (await sendWithRetries({ fetch, clock: fakeClock(), random: () => 0.5, retry: {} }, 'http://b/x', build).catch(
      (e: unknown) => e,
    )) as BrokerProblemError;
    expect(err).toBeInstanceOf(BrokerProblemError);
    expect([err.status, err.title, err.retryable]).toEqual([502, 'Bad Gateway', false]);
  });

  it('gives up at the deadline with the last error, never sleeping past it', async () => {
    const clock = fakeClock();
    let calls = 0;
    const fetch: FetchLike = () => (calls++, Promise.resolve(problem(503, { 'retry-after': '1' })));
    const err = (await sendWithRetries(
      { fetch, clock, random: () => 0.99, retry: { deadlineMs: 10_000, baseDelayMs: 500, maxDelayMs: 4_000 } },
      'http://b/x',
      build,
    ).catch((e: unknown) => e)) as DeadlineExceededError;
    expect(err).toBeInstanceOf(DeadlineExceededError);
    expect(err.lastError).toBeInstanceOf(BrokerProblemError);
    expect(err.attempts).toBe(calls);
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBeLessThan(10_000);
    expect(clock.sleeps.every((s) => s >= 1_000)).toBe(true);
  });

  it('turns network failures into BrokerUnreachableError, retryable', async () => {
    const clock = fakeClock();
    const fetch: FetchLike = () => Promise.reject(new TypeError('fetch failed'));
    const err = (await sendWithRetries({ fetch, clock, random: () => 0.5, retry: { deadlineMs: 1_000 } }, 'http://b/x', build).catch(
      (e: unknown) => e,
    )) as DeadlineExceededError;
    expect(err.lastError).toBeInstanceOf(BrokerUnreachableError);
    expect(err.lastError?.retryable).toBe(true);
  });
});
