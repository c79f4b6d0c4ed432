import { LRUCache } from 'lru-cache';

/**
 * Read-through cache with a TTL, a size bound and single-flight loading (concurrent misses for
 * one key share one load), over lru-cache. It also caches "not found" (null), so a burst for an
 * unknown device costs one query.
 */
export class TtlCache<K extends NonNullable<unknown>, V> {
  private readonly cache: LRUCache<K, { value: V }, (key: K) => Promise<V>>;

  constructor(ttlMs: number, maxEntries = 100_000) {
    this.cache = new LRUCache<K, { value: V }, (key: K) => Promise<V>>({
      max: maxEntries,
      ttl: Math.max(ttlMs, 1),
      fetchMethod: async (key, _stale, { context }) => ({ value: await context(key) }),
    });
  }

  async get(key: K, load: (key: K) => Promise<V>): Promise<V> {
    const entry = await this.cache.fetch(key, { context: load });
    return (entry as { value: V }).value;
  }

  invalidate(key: K): void {
    this.cache.delete(key);
  }
}
