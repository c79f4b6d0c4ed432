import { BrokerHarness, TERMINAL } from './support/broker-harness';
import { TcpProxy } from './support/tcp-proxy';

const ALLOWED_DURING_FAULTS = new Set([201, 502, 503, 504]);

/**
 * A steady load while the gateway misbehaves in every way the sandbox can, and while the
 * database "restarts" (a proxy drops every connection and refuses new ones for a while). The
 * broker must keep answering with the right codes, recover by itself, and never hand out a
 * sessionId without its `session.issued` audit event.
 */
describe('fault injection under load', () => {
  let h: BrokerHarness;
  const proxy = new TcpProxy('127.0.0.1', 5432);

  beforeAll(async () => {
    await proxy.start();
    h = await BrokerHarness.start(
      {
        DEVICE_RATE_LIMIT_PER_MINUTE: '100000',
        GATEWAY_BREAKER_HALF_OPEN_AFTER_MS: '300',
        REQUEST_DEADLINE_MS: '1500',
        DEVICE_CACHE_TTL_MS: '200',
      },
      (url) => {
        const u = new URL(url);
        u.port = String(proxy.port);
        return u.toString();
      },
    );
  });
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
    await proxy.stop();
  });

  it('answers correctly through latency spikes, 457 bursts, 500s, dropped connections and a database restart, then recovers', async () => {
    const device = await h.enrollDevice();
    const issued: string[] = [];
    const statuses = new Map<number, number>();
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const res = await h.issue(device, { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201) issued.push(String(res.body.requestId));
        else if (!ALLOWED_DURING_FAULTS.has(res.status)) throw new Error(`unexpected ${res.status}: ${res.text}`);
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    const phase = (ms: number) => new Promise((r) => setTimeout(r, ms));

    await phase(300);
    h.sandbox.setFaults({ latencyMs: 400 });
    await phase(500);
    h.sandbox.setFaults({ forceResult: '457' });
    await phase(400);
    h.sandbox.setFaults({ http500: true });
    await phase(400);
    h.sandbox.setFaults({ dropConnection: true });
    await phase(400);
    h.sandbox.setFaults({});
    await phase(300);
    await proxy.restart(700);
    await phase(1_200);
    stop = true;
    await Promise.all(workers);

    // Recovered: a fresh request succeeds without any restart of the broker.
    let recovered = 0;
    for (let i = 0; i < 20 && recovered === 0; i++) {
      const res = await h.issue(device);
      if (res.status === 201) {
        recovered = 1;
        issued.push(String(res.body.requestId));
      } else await phase(200);
    }
    expect(recovered).toBe(1);
    expect(statuses.get(500) ?? 0).toBe(0);
    expect((statuses.get(503) ?? 0) + (statuses.get(502) ?? 0)).toBeGreaterThan(0);
    expect(issued.length).toBeGreaterThan(10);

    const rows = await h.db.query<{ request_id: string }>(
      `SELECT DISTINCT request_id FROM audit_event WHERE action = 'session.issued' AND request_id = ANY($1)`,
      [issued],
    );
    expect(rows.length).toBe(issued.length);
  }, 30_000);
});
