import type Redis from 'ioredis';
import { IdempotencyState, IdempotencyStore } from './idempotency-store';

const key = (deviceId: string, k: string) => `idem:${deviceId}:${k}`;

/** Value: JSON {h: requestHash, r?: response}. SET NX claims; the TTL expires it with the session. */
export class RedisIdempotencyStore extends IdempotencyStore {
  constructor(private readonly redis: Redis) {
    super();
  }

  async begin(deviceId: string, k: string, requestHash: string, inFlightTtlMs: number): Promise<IdempotencyState> {
    const claimed = await this.redis.set(key(deviceId, k), JSON.stringify({ h: requestHash }), 'PX', inFlightTtlMs, 'NX');
    if (claimed === 'OK') return { kind: 'started' };
    return (await this.read(deviceId, k)) ?? (await this.begin(deviceId, k, requestHash, inFlightTtlMs));
  }

  async complete(deviceId: string, k: string, requestHash: string, response: string, ttlMs: number): Promise<void> {
    await this.redis.set(key(deviceId, k), JSON.stringify({ h: requestHash, r: response }), 'PX', ttlMs);
  }

  async release(deviceId: string, k: string): Promise<void> {
    await this.redis.del(key(deviceId, k));
  }

  async read(deviceId: string, k: string): Promise<IdempotencyState | undefined> {
    const raw = await this.redis.get(key(deviceId, k));
    if (raw === null) return undefined;
    const v = JSON.parse(raw) as { h: string; r?: string };
    return v.r === undefined ? { kind: 'in-flight', requestHash: v.h } : { kind: 'completed', requestHash: v.h, response: v.r };
  }
}
