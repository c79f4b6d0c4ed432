import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { request } from 'undici';
import { GatewayError, GatewayProtocolError, GatewayRejectedError, GatewayTimeoutError, GatewayUnavailableError } from '../../common/errors';
import type { CreateSessionInput } from '../gateway-provider';
import { createHypSandbox, type HypSandbox, type HypSandboxOptions } from '../../sandbox/hyp/hyp-sandbox';
import { HypGatewayClient } from '../../../test/support/hyp-gateway-client';
import { HypGatewayProvider } from './hyp-gateway.provider';
import { buildDoDealRequest, parseHypResponse } from './hyp-xml';

const TERMINAL = '0882819014';
const CREDENTIALS = { username: 'sandbox-merchant', password: 'pw-Provider-9f2c' };

let sandbox: HypSandbox | undefined;
let server: Server | undefined;
let client: HypGatewayClient;
let provider: HypGatewayProvider;

beforeEach(() => {
  client = new HypGatewayClient({
    connectTimeoutMs: 1_000,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    maxResponseBytes: 65_536,
    connectionsPerOrigin: 4,
  });
  provider = new HypGatewayProvider(client);
});

afterEach(async () => {
  await client.close();
  await sandbox?.close();
  sandbox = undefined;
  if (server) {
    server.closeAllConnections();
    await new Promise((r) => server?.close(r));
    server = undefined;
  }
});

async function startSandbox(overrides: Partial<HypSandboxOptions> = {}): Promise<string> {
  sandbox = createHypSandbox({
    terminals: { [TERMINAL]: { user: CREDENTIALS.username, password: CREDENTIALS.password } },
    ...overrides,
  });
  return sandbox.listen(0);
}

/** A fake gateway answering one fixed body, for answers the faithful sandbox never gives. */
async function startFixed(body: string): Promise<string> {
  server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/xml' }).end(body));
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/xpo/Relay`;
}

function input(endpointUrl: string, overrides: Partial<CreateSessionInput> = {}): CreateSessionInput {
  return {
    terminal: { terminalNumber: TERMINAL, endpointUrl },
    credentials: CREDENTIALS,
    scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' },
    requestId: 'req-0001',
    signal: new AbortController().signal,
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  const err: unknown = await promise.then(
    () => {
      throw new Error('expected createSession to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  expect(`${inspect(err, { depth: 10 })}\n${(err as Error).stack}`).not.toContain(CREDENTIALS.password);
  return err as GatewayError;
}

describe('HypGatewayProvider', () => {
  it('is registered as "hyp"', () => {
    expect(provider.name).toBe('hyp');
  });

  it('gets a single-use session whose scope the gateway enforces', async () => {
    const url = await startSandbox();
    const session = await provider.createSession(input(url));
    expect(session).toEqual({
      sessionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      expiresIn: 600,
      reusable: false,
      gatewayReference: expect.stringMatching(/^\d+$/),
      resultCode: '000',
    });

    // The scope reached the gateway: an out-of-scope deal is refused, the in-scope one permitted once.
    const pay = async (transactionType: string) => {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          sessionId: session.sessionId,
          int_in: buildDoDealRequest({ terminalNumber: TERMINAL, validation: 'AutoComm', transactionType, total: 100 }),
        }).toString(),
      });
      return parseHypResponse(await res.body.text()).result;
    };
    expect(await pay('Debit')).toBe('444');
    expect(await pay('Credit')).toBe('000');
    expect(await pay('Credit')).toBe('456');
  });

  it('reports reusable sessions and the configured lifetime', async () => {
    const url = await startSandbox({ sessionReuse: true, sessionTtlSeconds: 120 });
    const session = await provider.createSession(input(url, { scope: undefined }));
    expect([session.reusable, session.expiresIn]).toEqual([true, 120]);
  });

  it.each([
    ['wrong password', { password: 'wrong' }, {}, 502, 'gateway-merchant-auth-failed', false, '405'],
    ['terminal not enabled', {}, { sessionsEnabled: false }, 502, 'gateway-terminal-not-enabled', false, '455'],
  ])('maps %s to GatewayRejectedError', async (_n, creds, terminal, status, code, transient, result) => {
    const url = await startSandbox();
    sandbox?.setTerminal(TERMINAL, { user: CREDENTIALS.username, password: CREDENTIALS.password, ...terminal });
    const err = await rejection(provider.createSession(input(url, { credentials: { ...CREDENTIALS, ...creds } })));
    expect(err).toBeInstanceOf(GatewayRejectedError);
    expect(err).toMatchObject({ status, code, transient, gatewayResult: result });
    // Nothing of Hyp's wording reaches the device.
    expect(err.detail).not.toMatch(/SSL HTTPS|System Administration|Merchant authentication error|does not support/);
  });

  it.each([
    ['457', 503, 'gateway-session-generation-failed', true],
    ['456', 502, 'gateway-session-timeout', false],
    ['303', 502, 'gateway-error', false],
    ['308', 502, 'gateway-error', false],
    ['354', 502, 'gateway-error', false],
    ['444', 502, 'gateway-error', false],
    ['999', 502, 'gateway-error', false],
  ])('maps forced result %s', async (result, status, code, transient) => {
    const url = await startSandbox({ faults: { forceResult: result } });
    const err = await rejection(provider.createSession(input(url)));
    expect(err).toBeInstanceOf(GatewayRejectedError);
    expect(err).toMatchObject({ status, code, transient, gatewayResult: result });
    expect(err.detail).toContain(result);
  });

  it('maps sandbox faults to the client’s errors', async () => {
    const url = await startSandbox({ faults: { http500: true } });
    const e500 = await rejection(provider.createSession(input(url)));
    expect(e500).toBeInstanceOf(GatewayUnavailableError);
    expect(e500.transient).toBe(true);

    sandbox?.setFaults({ malformedBody: true });
    expect(await rejection(provider.createSession(input(url)))).toBeInstanceOf(GatewayProtocolError);

    sandbox?.setFaults({ dropConnection: true });
    const dropped = await rejection(provider.createSession(input(url)));
    expect(dropped).toBeInstanceOf(GatewayUnavailableError);
    expect(dropped.transient).toBe(false);

    sandbox?.setFaults({ latencyMs: 2_000 });
    const started = Date.now();
    const late = await rejection(provider.createSession(input(url, { signal: AbortSignal.timeout(100) })));
    expect(late).toBeInstanceOf(GatewayTimeoutError);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('makes exactly one attempt: retrying is the caller’s call', async () => {
    const url = await startSandbox({ faults: { forceResult: '457' } });
    await rejection(provider.createSession(input(url)));
    expect(sandbox?.stats.getSessionId).toBe(1);
  });

  it.each([
    ['no sessionId', '<result>000</result><getSessionId><sessionId/><sessionExpiration>600</sessionExpiration></getSessionId>'],
    ['no getSessionId element', '<result>000</result>'],
    ['a non-numeric lifetime', '<result>000</result><getSessionId><sessionId>abc</sessionId><sessionExpiration>10m</sessionExpiration></getSessionId>'],
    ['a missing lifetime', '<result>000</result><getSessionId><sessionId>abc</sessionId></getSessionId>'],
    [
      'another command',
      '<command>doDeal</command><result>000</result><getSessionId><sessionId>abc</sessionId><sessionExpiration>600</sessionExpiration></getSessionId>',
    ],
  ])('refuses a success answer with %s', async (_n, inner) => {
    const url = await startFixed(`<ashrait><response>${inner}</response></ashrait>`);
    expect(await rejection(provider.createSession(input(url)))).toBeInstanceOf(GatewayProtocolError);
  });

  it('accepts a minimal success answer without a tranId', async () => {
    const url = await startFixed(
      '<ashrait><response><result>000</result><getSessionId><sessionId>s-1</sessionId><sessionExpiration>30</sessionExpiration><sessionReUse>0</sessionReUse></getSessionId></response></ashrait>',
    );
    await expect(provider.createSession(input(url))).resolves.toEqual({
      sessionId: 's-1',
      expiresIn: 30,
      reusable: false,
      gatewayReference: undefined,
      resultCode: '000',
    });
  });

  it('refuses programming errors before calling out', async () => {
    const url = await startSandbox();
    await expect(provider.createSession(input(url, { requestId: 'x'.repeat(21) }))).rejects.toThrow(/requestId/);
    await expect(provider.createSession(input(url, { requestId: 'x'.repeat(20) }))).resolves.toMatchObject({ resultCode: '000' });
    await expect(provider.createSession(input(url, { credentials: { username: 'u' } }))).rejects.toThrow('credentials incomplete');
    await expect(provider.createSession(input(url, { credentials: { password: 'p' } }))).rejects.toThrow('credentials incomplete');
    expect(sandbox?.stats.getSessionId).toBe(1);
  });
});
