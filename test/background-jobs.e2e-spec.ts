import { SchedulerRegistry } from '@nestjs/schedule';
import { DatabaseConnection } from '../src/database/database-connection';
import { DeviceLiveness } from '../src/devices/device-liveness';
import { BrokerHarness } from './support/broker-harness';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * The recurring background jobs run on @nestjs/schedule: each is a named interval in the
 * application's SchedulerRegistry while the broker runs, and none is left once it has closed.
 */
describe('background jobs in the SchedulerRegistry', () => {
  let h: BrokerHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('without Redis: the Postgres purges, the liveness flush, sealing and partitions are registered, and removed at shutdown', async () => {
    h = await BrokerHarness.start({ AUDIT_SEAL_INTERVAL_MS: '60000', AUDIT_PARTITION_INTERVAL_MS: '3600000' });
    const registry = h.app.get(SchedulerRegistry);
    expect(registry.getIntervals().sort()).toEqual([
      'audit-partitions.prepare',
      'audit-seal.round',
      'device-liveness.flush',
      'idempotency.purge-expired',
      'replay-guard.purge-expired',
    ]);
    await h.app.close();
    expect(registry.getIntervals()).toEqual([]);
  });

  it('with Redis: no purge job (Redis expires replay claims and idempotency records by TTL); sealing off at interval 0', async () => {
    h = await BrokerHarness.start({ REDIS_URL, AUDIT_SEAL_INTERVAL_MS: '0', AUDIT_PARTITION_INTERVAL_MS: '0' });
    const registry = h.app.get(SchedulerRegistry);
    expect(registry.getIntervals()).toEqual(['device-liveness.flush']);
  });
});

describe('device liveness at shutdown', () => {
  let h: BrokerHarness;
  afterEach(async () => {
    await h?.close();
  });

  it('a sighting made while a flush is being written is written too, before the database closes', async () => {
    h = await BrokerHarness.start({ DEVICE_LIVENESS_FLUSH_MS: '600000' });
    const [a, b] = [await h.enrollDevice(), await h.enrollDevice()];
    // Hold the first liveness write open until the test lets it go.
    const sql = h.app.get(DatabaseConnection).sql;
    const query = sql.query.bind(sql);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = false;
    jest.spyOn(sql, 'query').mockImplementation(async (text, values, name) => {
      if (name === 'device_liveness_flush' && !held) {
        held = true;
        await gate;
      }
      return query(text, values, name);
    });

    expect((await h.issue(a)).status).toBe(201);
    const inFlight = h.app.get(DeviceLiveness).flush(); // takes a's sighting, then waits at the gate
    expect((await h.issue(b)).status).toBe(201); // seen after the batch was taken: pending
    const closing = h.app.close();
    setTimeout(release, 100);
    await Promise.all([inFlight, closing]);
    h.app = { close: async () => undefined } as never; // closed already: h.close() drops the database only

    const seen = await h.db.query<{ id: string; last_seen_at: Date | null }>('SELECT id::text, last_seen_at FROM device WHERE id = ANY($1::uuid[])', [
      [a.deviceId, b.deviceId],
    ]);
    expect(
      seen
        .filter((d) => d.last_seen_at !== null)
        .map((d) => d.id)
        .sort(),
    ).toEqual([a.deviceId, b.deviceId].sort());
  });
});
