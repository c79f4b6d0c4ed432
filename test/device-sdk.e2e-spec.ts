import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  BrokerClient,
  BrokerProblemError,
  enroll,
  exportPrivateJwk,
  generateDeviceKey,
  type DeviceCredentials,
  type DeviceKey,
  type FetchLike,
  type Session,
} from '../sdk/src/index';
import { FileKeyStore } from '../sdk/src/node';
import { AUDIENCE, BrokerHarness, EMBEDDED_TERMINAL, PAYROC_TERMINAL, TERMINAL, WALLET_IDS, WALLET_TERMINAL } from './support/broker-harness';

const LIB = '1.6.0.172441';
const DEAL = { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' };
/** One policy for the four providers' terminals the harness seeds. */
const POLICY = {
  allowUnscoped: false,
  allowed: [DEAL],
  providers: { payroc: { libVersions: [LIB] }, 'embedded-components': { gateway: true }, wallet: { walletIds: WALLET_IDS } },
};
const TERMINALS = [TERMINAL, PAYROC_TERMINAL, EMBEDDED_TERMINAL, WALLET_TERMINAL];

/**
 * The device SDK (sdk/src, through ts-jest) against a real broker over HTTP: a device enrolls with a
 * one-time code, then gets sessions from each provider's terminal, retries through a 503 without a
 * second gateway call, and closes a wallet session. Whatever the SDK printed is captured and checked.
 */
describe('device SDK against the broker', () => {
  let h: BrokerHarness;
  let dir: string;
  const consoleLines: string[] = [];
  const sessionIds: string[] = [];
  const privateDs: string[] = [];

  beforeAll(async () => {
    h = await BrokerHarness.start({ GATEWAY_BREAKER_THRESHOLD: '1000' });
    dir = mkdtempSync(join(tmpdir(), 'sdk-e2e-'));
    for (const m of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      jest.spyOn(console, m).mockImplementation((...args: unknown[]) => void consoleLines.push(args.map((a) => inspect(a, { depth: 10 })).join(' ')));
    }
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    if (h) {
      for (const id of sessionIds) h.secretsSeen.add(id);
      for (const d of privateDs) h.secretsSeen.add(d);
      // The broker never logged or recorded a sessionId, a code or a private key...
      await h.expectNoSecretsLeaked();
      // ...and the SDK printed nothing at all.
      expect(consoleLines).toEqual([]);
    }
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function newCode(body: object = {}): Promise<{ code: string; enrollUrl: string }> {
    const res = await h.send(
      'POST',
      '/v1/admin/enrollment-codes',
      { terminalNumbers: TERMINALS, policy: POLICY, ...body },
      {
        authorization: `Bearer ${h.operatorToken(['admin'])}`,
      },
    );
    expect(res.status).toBe(201);
    h.secretsSeen.add(res.body.code as string);
    return { code: res.body.code as string, enrollUrl: res.body.enrollUrl as string };
  }

  function keep(session: Session): Session {
    sessionIds.push(session.sessionId);
    return session;
  }

  let credentials: DeviceCredentials;
  let deviceKey: DeviceKey;
  let client: BrokerClient;

  it('enrolls with a one-time code (typed loosely), keeping the key in a 0600 file, and learns the audience', async () => {
    const { code } = await newCode();
    const key = (deviceKey = await generateDeviceKey({ extractable: true }));
    privateDs.push((await exportPrivateJwk(key)).d);
    const store = new FileKeyStore(join(dir, 'device.json'));
    credentials = await enroll({ brokerUrl: h.baseUrl, code: code.toLowerCase().replace(/-/g, ' '), key, name: 'till 7', softwareVersion: '3.1.0', store });
    expect(credentials).toMatchObject({ brokerUrl: h.baseUrl, alg: 'ES256', audience: AUDIENCE, terminalNumbers: [...TERMINALS].sort() });
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    client = (await BrokerClient.fromStore(store, { softwareVersion: '3.1.0' }))!;
    expect(client.deviceId).toBe(credentials.deviceId);

    // The same code again: the typed, generic refusal.
    const again = await enroll({ brokerUrl: h.baseUrl, code, key: await generateDeviceKey() }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(BrokerProblemError);
    expect(again).toMatchObject({ status: 400, code: 'enrollment-code-refused', title: 'Enrollment code not accepted', retryable: false });
    expect((again as BrokerProblemError).type).toMatch(/enrollment-code-refused$/);
  });

  it('gets a session for the Hyp demo terminal and for each other provider’s terminal', async () => {
    const hyp = keep(await client.createSession({ terminalNumber: TERMINAL, scope: DEAL }));
    expect(hyp).toMatchObject({ provider: 'hyp', terminalNumber: TERMINAL, reusable: false });
    expect(hyp.sessionId).toEqual(expect.any(String));
    const payroc = keep(await client.createSession({ terminalNumber: PAYROC_TERMINAL, scope: { libVersion: LIB } }));
    expect(payroc).toMatchObject({ provider: 'payroc', terminalNumber: PAYROC_TERMINAL });
    const embedded = keep(await client.createSession({ terminalNumber: EMBEDDED_TERMINAL, scope: { gateway: true } }));
    expect(embedded).toMatchObject({ provider: 'embedded-components', terminalNumber: EMBEDDED_TERMINAL });
    const wallet = keep(await client.createSession({ terminalNumber: WALLET_TERMINAL, scope: { walletId: WALLET_IDS[0] } }));
    expect(wallet).toMatchObject({ provider: 'wallet', terminalNumber: WALLET_TERMINAL, expiresAt: null, reusable: true });
    // Each call was one issuance by this device.
    const issued = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_event WHERE action = 'session.issued' AND actor_id = $1`, [
      credentials.deviceId,
    ]);
    expect(issued).toEqual([{ n: 4 }]);
  });

  it('retries through an injected 503 with the same Idempotency-Key: one gateway call, the same session', async () => {
    const sent: Array<{ key: string; token: string }> = [];
    let answered = 0;
    // A load balancer that loses the broker's first answer and says 503 instead (Retry-After: 1).
    const flaky: FetchLike = async (url, init) => {
      sent.push({ key: init.headers['idempotency-key'], token: init.headers.authorization });
      const res = await fetch(url, init);
      if (answered++ > 0) return res;
      await res.text();
      return new Response('{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"upstream reset"}', {
        status: 503,
        headers: { 'content-type': 'application/problem+json', 'retry-after': '1' },
      });
    };
    const retrying = BrokerClient.fromCredentials(credentials, deviceKey, { fetch: flaky });
    const gatewayCalls = h.sandbox.stats.getSessionId;
    const started = Date.now();
    const session = keep(await retrying.createSession({ terminalNumber: TERMINAL, scope: DEAL }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000); // Retry-After honoured
    expect(session).toMatchObject({ provider: 'hyp', terminalNumber: TERMINAL });
    expect(sent).toHaveLength(2);
    expect(sent[1].key).toBe(sent[0].key);
    expect(sent[1].token).not.toBe(sent[0].token); // a fresh token (new jti) per attempt
    expect(h.sandbox.stats.getSessionId - gatewayCalls).toBe(1);
    const issued = await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_event WHERE action = 'session.issued' AND actor_id = $1`, [
      credentials.deviceId,
    ]);
    expect(issued).toEqual([{ n: 5 }]);
  });

  it('types refusals from the problem+json and does not retry them', async () => {
    const before = h.sandbox.stats.getSessionId;
    const err = await client.createSession({ terminalNumber: TERMINAL, scope: { command: 'refundDeal' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerProblemError);
    const problem = err as BrokerProblemError;
    expect(problem.status).toBe(403);
    expect(problem.retryable).toBe(false);
    expect(problem.type).toMatch(/^https?:|^about:|^urn:|^\//);
    expect(problem.title).toEqual(expect.any(String));
    expect(problem.detail).toEqual(expect.any(String));
    expect(h.sandbox.stats.getSessionId).toBe(before);
  });

  it('closes a wallet session (open until closed); closing twice is fine', async () => {
    const wallet = keep(await client.createSession({ terminalNumber: WALLET_TERMINAL, scope: { walletId: WALLET_IDS[1] } }));
    const closes = h.wallet.stats.closes;
    await client.closeSession(wallet.sessionId);
    expect(h.wallet.sessionStatus(wallet.sessionId)).toBe('CLOSE');
    await client.closeSession(wallet.sessionId);
    expect(h.wallet.stats.closes - closes).toBe(1);
  });

  it('enrolls an Ed25519 device from the QR code URL and gets a session with EdDSA tokens', async () => {
    const { enrollUrl } = await newCode({ terminalNumbers: [TERMINAL] });
    const key = await generateDeviceKey({ alg: 'EdDSA' });
    const creds = await enroll({ enrollUrl, key, name: 'kiosk 2' });
    expect(creds).toMatchObject({ alg: 'EdDSA', terminalNumbers: [TERMINAL], audience: AUDIENCE });
    const kiosk = BrokerClient.fromCredentials(creds, key);
    // Bound to one terminal: terminalNumber may be left out.
    expect(keep(await kiosk.createSession({ scope: DEAL }))).toMatchObject({ provider: 'hyp', terminalNumber: TERMINAL });
  });
});
