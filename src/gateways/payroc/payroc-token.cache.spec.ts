import { GatewayTimeoutError, GatewayUnavailableError } from '../../common/errors';
import { PayrocTokenCache, type BearerToken } from './payroc-token.cache';

const URL = 'https://identity.example/authorize';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('PayrocTokenCache', () => {
  let clock = 1_000_000;
  const now = () => clock;
  const signal = () => new AbortController().signal;

  it('fetches once for concurrent callers and caches until the margin before expiry', async () => {
    let calls = 0;
    const cache = new PayrocTokenCache(60_000, async () => ({ token: `t${++calls}`, expiresIn: 3600 }), now);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => cache.get(URL, 'key-a', signal())));
    expect(new Set(tokens)).toEqual(new Set(['t1']));
    clock += 3_539_000;
    expect(await cache.get(URL, 'key-a', signal())).toBe('t1');
    clock += 2_000; // now within 60 s of expiry
    expect(await cache.get(URL, 'key-a', signal())).toBe('t2');
    expect(await cache.get(URL, 'key-b', signal())).toBe('t3'); // one token per API key
  });

  it('uses a token shorter-lived than the margin for half its life', async () => {
    let calls = 0;
    const cache = new PayrocTokenCache(60_000, async () => ({ token: `s${++calls}`, expiresIn: 10 }), now);
    expect(await cache.get(URL, 'k', signal())).toBe('s1');
    clock += 4_000;
    expect(await cache.get(URL, 'k', signal())).toBe('s1');
    clock += 2_000;
    expect(await cache.get(URL, 'k', signal())).toBe('s2');
  });

  it('invalidates only the token that was refused, not a newer one', async () => {
    let calls = 0;
    const cache = new PayrocTokenCache(0, async () => ({ token: `u${++calls}`, expiresIn: 3600 }), now);
    const old = await cache.get(URL, 'k', signal());
    cache.invalidate(URL, 'k', old);
    const fresh = await cache.get(URL, 'k', signal());
    cache.invalidate(URL, 'k', old); // a late refusal of the old token
    expect(await cache.get(URL, 'k', signal())).toBe(fresh);
    expect(calls).toBe(2);
  });

  it('shares a failure with every waiter, caches nothing, and tries again on the next call', async () => {
    let calls = 0;
    const cache = new PayrocTokenCache(
      0,
      async () => {
        calls++;
        if (calls === 1) throw new GatewayUnavailableError('down', true);
        return { token: 'ok', expiresIn: 60 };
      },
      now,
    );
    const results = await Promise.allSettled([cache.get(URL, 'k', signal()), cache.get(URL, 'k', signal())]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await cache.get(URL, 'k', signal())).toBe('ok');
    expect(calls).toBe(2);
  });

  it('lets a caller stop at its own deadline without failing the others', async () => {
    const pending = deferred<BearerToken>();
    const cache = new PayrocTokenCache(0, () => pending.promise, now);
    const impatient = new AbortController();
    const first = cache.get(URL, 'k', impatient.signal);
    const second = cache.get(URL, 'k', signal());
    impatient.abort();
    await expect(first).rejects.toBeInstanceOf(GatewayTimeoutError);
    pending.resolve({ token: 'late', expiresIn: 60 });
    await expect(second).resolves.toBe('late');
  });
});
