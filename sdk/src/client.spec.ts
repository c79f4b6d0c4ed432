import { inspect } from 'node:util';
import { BrokerClient } from './client.js';
import { BrokerProblemError } from './errors.js';
import { exportPrivateJwk, generateDeviceKey, importPrivateJwk, MemoryKeyStore } from './keys.js';
import type { Clock, FetchLike } from './transport.js';

const SESSION_ID = 'sess-7f3a9c2e41d84b6aa1e0c3d5b7f9e2a1';

type Sent = { url: string; method: string; headers: Record<string, string>; body?: string };

function recorder(answers: Array<() => Response>): { fetch: FetchLike; sent: Sent[] } {
  const sent: Sent[] = [];
  let i = 0;
  return {
    sent,
    fetch: (url, init) => {
      sent.push({ url, method: init.method, headers: init.headers, body: init.body });
      return Promise.resolve().then(() => answers[i++]());
    },
  };
}

const clock: Clock = { now: () => Date.now(), sleep: () => Promise.resolve() };
/** The JWT part `index` (0 header, 1 payload) as JSON. */
const jwtPart = (token: string, index: 0 | 1) => JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString()) as Record<string, unknown>;
const session = () =>
  new Response(
    JSON.stringify({
      sessionId: SESSION_ID,
      expiresAt: null,
      expiresIn: null,
      reusable: true,
      provider: 'wallet',
      terminalNumber: '0882819032',
      scope: { walletId: 'w' },
      requestId: 'r1',
    }),
    { status: 201, headers: { 'content-type': 'application/json' } },
  );
const unavailable = () =>
  new Response(
    JSON.stringify({ type: 'https://x/gateway-unavailable', title: 'Gateway unavailable', status: 503, detail: 'try later', code: 'gateway-unavailable' }),
    {
      status: 503,
      headers: { 'retry-after': '0' },
    },
  );

describe('BrokerClient', () => {
  const captured: string[] = [];
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  beforeEach(() => {
    captured.length = 0;
    for (const m of methods)
      jest.spyOn(console, m).mockImplementation((...args: unknown[]) => void captured.push(args.map((a) => inspect(a, { depth: 10 })).join(' ')));
  });
  afterEach(() => jest.restoreAllMocks());

  it('signs a fresh token per attempt and reuses one Idempotency-Key on every retry of a call', async () => {
    const key = await generateDeviceKey();
    const { fetch, sent } = recorder([unavailable, unavailable, session, session]);
    const client = new BrokerClient({
      brokerUrl: 'http://broker.test/',
      deviceId: 'd1',
      keyId: 'k1',
      key,
      audience: 'aud-1',
      softwareVersion: '2.0.0',
      fetch,
      clock,
      random: () => 0,
    });
    const s = await client.createSession({ terminalNumber: '0882819032', scope: { walletId: 'w' } });
    expect(s.sessionId).toBe(SESSION_ID);
    expect(sent.map((r) => `${r.method} ${r.url}`)).toEqual(new Array(3).fill('POST http://broker.test/v1/sessions'));
    const keys = new Set(sent.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    const tokens = sent.map((r) => r.headers.authorization.slice('Bearer '.length));
    const jtis = tokens.map((t) => jwtPart(t, 1).jti);
    expect(new Set(jtis).size).toBe(3);
    expect(jwtPart(tokens[0], 1)).toMatchObject({ sub: 'd1', aud: 'aud-1', sv: '2.0.0' });
    expect(JSON.parse(sent[0].body!)).toEqual({ terminalNumber: '0882819032', scope: { walletId: 'w' } });

    // A second logical call gets a key of its own.
    await client.createSession({ scope: { walletId: 'w' } });
    expect(sent[3].headers['idempotency-key']).not.toBe(sent[0].headers['idempotency-key']);
  });

  it('throws typed problems, and never keeps or logs a sessionId or the private key', async () => {
    const key = await generateDeviceKey({ extractable: true });
    const { d } = await exportPrivateJwk(key);
    const { fetch } = recorder([
      session,
      () => new Response(null, { status: 204 }),
      () =>
        new Response(JSON.stringify({ type: 'https://x/forbidden', title: 'Forbidden', status: 403, detail: 'scope not allowed', code: 'forbidden' }), {
          status: 403,
        }),
    ]);
    const client = new BrokerClient({ brokerUrl: 'http://broker.test', deviceId: 'd1', keyId: 'k1', key, fetch, clock });
    const s = await client.createSession({ scope: { walletId: 'w' } });
    await client.closeSession(s.sessionId);
    const err = await client.createSession({ scope: { walletId: 'x' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerProblemError);
    expect(err).toMatchObject({ status: 403, title: 'Forbidden', detail: 'scope not allowed', retryable: false });

    console.log(client, err);
    const everything = [JSON.stringify(client), inspect(client, { depth: 10, showHidden: true }), JSON.stringify(err), String(err), ...captured].join('\n');
    expect(everything).not.toContain(SESSION_ID);
    expect(everything).not.toContain(d);
    expect(captured.length).toBe(1); // ours; the SDK itself logged nothing
  });

  it('comes back from a KeyStore with a key that signs', async () => {
    const store = new MemoryKeyStore();
    const key = await generateDeviceKey({ alg: 'EdDSA', extractable: true });
    await store.save({
      brokerUrl: 'http://b',
      deviceId: 'd',
      keyId: 'k',
      alg: 'EdDSA',
      audience: 'a',
      terminalNumbers: [],
      privateJwk: await exportPrivateJwk(key),
    });
    const { fetch, sent } = recorder([session]);
    const client = await BrokerClient.fromStore(store, { fetch, clock });
    await client!.createSession({});
    const header = jwtPart(sent[0].headers.authorization.split(' ')[1], 0);
    expect(header).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: 'k' });
    expect((await importPrivateJwk(await exportPrivateJwk(key))).privateKey.extractable).toBe(false);
    await store.clear();
    expect(await BrokerClient.fromStore(store)).toBeUndefined();
  });

  it('refuses a softwareVersion the broker would refuse in every token', async () => {
    const key = await generateDeviceKey();
    const make = (softwareVersion: string) => () => new BrokerClient({ brokerUrl: 'http://b', deviceId: 'd', keyId: 'k', key, softwareVersion });
    expect(make('1.2 beta')).toThrow(TypeError);
    expect(make('')).toThrow(TypeError);
    expect(make('x'.repeat(65))).toThrow(TypeError);
    expect(make('1.2.0-beta+7')).not.toThrow();
  });
});
