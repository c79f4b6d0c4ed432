import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { GatewayError, GatewayProtocolError, GatewayTimeoutError, GatewayUnavailableError } from '../../common/errors';
import { HypGatewayClient, type HypGatewayClientOptions } from '../../../test/support/hyp-gateway-client';

const PASSWORD = 'Pw-7f3a9c!&=%secret';
const FORM = { user: 'merchant', password: PASSWORD, int_in: '<ashrait><request/></ashrait>' };
const OK_XML = "<?xml version='1.0'?><ashrait><response><result>000</result><userMessage>עסקה תקינה</userMessage></response></ashrait>";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const thrown: unknown[] = [];
const servers: Array<Server | HttpsServer> = [];
const clients: HypGatewayClient[] = [];

async function serve(handler: Handler, server: Server | HttpsServer = createServer()): Promise<string> {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  const scheme = server instanceof HttpsServer ? 'https' : 'http';
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}/xpo/Relay`;
}

function client(overrides: Partial<HypGatewayClientOptions> = {}): HypGatewayClient {
  const c = new HypGatewayClient({
    connectTimeoutMs: 1_000,
    headersTimeoutMs: 2_000,
    bodyTimeoutMs: 2_000,
    maxResponseBytes: 4_096,
    connectionsPerOrigin: 4,
    ...overrides,
  });
  clients.push(c);
  return c;
}

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (err) {
    thrown.push(err);
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected the call to fail');
}

const signal = () => new AbortController().signal;

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

afterAll(() => {
  // Every error any test provoked, with its whole cause chain, must be free of the password.
  expect(thrown.length).toBeGreaterThanOrEqual(10);
  const encoded = new URLSearchParams({ p: PASSWORD }).toString().slice(2);
  for (const err of thrown) {
    const text = `${inspect(err, { depth: 10 })}\n${(err as Error).stack}\n${(err as Error).message}`;
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(encoded);
  }
});

describe('postHypForm over the gateway HTTP client', () => {
  it('posts the form url-encoded and returns the UTF-8 body', async () => {
    let seen: { method?: string; url?: string; type?: string; accept?: string; body?: string } = {};
    const url = await serve((req, res, body) => {
      seen = { method: req.method, url: req.url, type: req.headers['content-type'], accept: req.headers.accept, body };
      res.writeHead(200, { 'content-type': 'application/xml; charset=utf-8' }).end(OK_XML);
    });
    await expect(client().postForm(`${url}?x=1`, FORM, signal())).resolves.toBe(OK_XML);
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/xpo/Relay?x=1');
    expect(seen.type).toBe('application/x-www-form-urlencoded');
    expect(seen.accept).toBe('application/xml, text/xml');
    expect(Object.fromEntries(new URLSearchParams(seen.body))).toEqual(FORM);
  });

  it('reuses one keep-alive connection for sequential calls', async () => {
    const ports = new Set<number | undefined>();
    const url = await serve((req, res) => {
      ports.add(req.socket.remotePort);
      res.end(OK_XML);
    });
    const c = client({ connectionsPerOrigin: 1 });
    for (let i = 0; i < 3; i++) await c.postForm(url, FORM, signal());
    expect(ports.size).toBe(1);
  });

  it('maps HTTP 500 to a transient GatewayUnavailableError', async () => {
    const url = await serve((_req, res) => res.writeHead(500, { 'content-type': 'text/html' }).end('<html>boom</html>'));
    const err = await failure(client().postForm(url, FORM, signal()));
    expect(err).toBeInstanceOf(GatewayUnavailableError);
    expect(err.transient).toBe(true);
  });

  it('maps HTTP 404 to GatewayProtocolError', async () => {
    const url = await serve((_req, res) => res.writeHead(404).end('not here'));
    expect(await failure(client().postForm(url, FORM, signal()))).toBeInstanceOf(GatewayProtocolError);
  });

  it('returns an empty or HTML body as text: judging it is the parser’s job', async () => {
    const url = await serve((req, res) => res.end(req.url?.includes('html') ? '<html></html>' : ''));
    const c = client();
    await expect(c.postForm(url, FORM, signal())).resolves.toBe('');
    await expect(c.postForm(`${url}?html`, FORM, signal())).resolves.toBe('<html></html>');
  });

  it('refuses a body over the cap, announced or streamed', async () => {
    const big = 'x'.repeat(5_000);
    const url = await serve((req, res) => {
      if (req.url?.includes('chunked')) {
        res.write(big.slice(0, 2_500));
        setTimeout(() => res.end(big.slice(2_500)), 20);
      } else res.end(big);
    });
    const c = client({ maxResponseBytes: 4_096 });
    expect(await failure(c.postForm(url, FORM, signal()))).toBeInstanceOf(GatewayProtocolError);
    expect(await failure(c.postForm(`${url}?chunked`, FORM, signal()))).toBeInstanceOf(GatewayProtocolError);
    // Nothing leaked: the pool still serves a normal call.
    await expect(client({ maxResponseBytes: 10_000 }).postForm(url, FORM, signal())).resolves.toHaveLength(5_000);
  });

  it('times out quickly when the headers never come', async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    const err = await failure(client({ headersTimeoutMs: 200 }).postForm(url, FORM, signal()));
    expect(err).toBeInstanceOf(GatewayTimeoutError);
    // undici's parser timers tick about every 0.5 s, so 200 ms lands within about a second.
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('times out when the body stalls', async () => {
    const url = await serve((_req, res) => res.writeHead(200).write('<ashrait>'));
    const err = await failure(client({ bodyTimeoutMs: 200 }).postForm(url, FORM, signal()));
    expect(err).toBeInstanceOf(GatewayTimeoutError);
  });

  it('stops at the caller’s deadline via AbortSignal', async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    const err = await failure(client().postForm(url, FORM, AbortSignal.timeout(150)));
    expect(err).toBeInstanceOf(GatewayTimeoutError);
    expect(Date.now() - started).toBeLessThan(1_000);

    const aborted = new AbortController();
    aborted.abort();
    expect(await failure(client().postForm(url, FORM, aborted.signal))).toBeInstanceOf(GatewayTimeoutError);
  });

  it('maps a refused connection to a transient GatewayUnavailableError', async () => {
    const url = await serve(() => undefined);
    const s = servers.pop() as Server;
    await new Promise((resolve) => s.close(resolve));
    const err = await failure(client().postForm(url, FORM, signal()));
    expect(err).toBeInstanceOf(GatewayUnavailableError);
    expect(err.transient).toBe(true);
  });

  it('maps a reset connection to a non-transient GatewayUnavailableError (the request may have landed)', async () => {
    const url = await serve((req) => req.socket.destroy());
    const err = await failure(client().postForm(url, FORM, signal()));
    expect(err).toBeInstanceOf(GatewayUnavailableError);
    expect(err.transient).toBe(false);
  });

  it('refuses a malformed or credential-bearing endpoint URL without calling out', async () => {
    for (const bad of ['not a url', 'ftp://127.0.0.1/xpo/Relay', 'https://u:p@127.0.0.1/xpo/Relay']) {
      const err = await failure(client().postForm(bad, FORM, signal()));
      expect(err).toBeInstanceOf(GatewayUnavailableError);
      expect(err.detail).not.toContain('u:p');
    }
  });

  it('refuses calls after close()', async () => {
    const url = await serve((_req, res) => res.end(OK_XML));
    const c = client();
    await c.postForm(url, FORM, signal());
    await c.close();
    expect(await failure(c.postForm(url, FORM, signal()))).toBeInstanceOf(GatewayUnavailableError);
  });

  describe('TLS', () => {
    let dir: string | undefined;
    let tls: { key: string; cert: string } | undefined;

    beforeAll(() => {
      try {
        dir = mkdtempSync(join(tmpdir(), 'hyp-tls-'));
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-days',
            '1',
            '-subj',
            '/CN=127.0.0.1',
            '-addext',
            'subjectAltName=IP:127.0.0.1',
            '-keyout',
            join(dir, 'key.pem'),
            '-out',
            join(dir, 'cert.pem'),
          ],
          { stdio: 'ignore' },
        );
        tls = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
      } catch (err) {
        throw new Error(`the TLS tests need the openssl command to make a test certificate: ${(err as Error).message}`, { cause: err });
      }
    });

    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('rejects an untrusted certificate, and trusts it once its CA is configured', async () => {
      if (!tls) throw new Error('no test certificate');
      const url = await serve((_req, res) => res.end(OK_XML), createHttpsServer(tls));
      expect(url.startsWith('https://')).toBe(true);
      const err = await failure(client().postForm(url, FORM, signal()));
      expect(err).toBeInstanceOf(GatewayUnavailableError);
      expect(err.transient).toBe(false);
      await expect(client({ ca: tls.cert }).postForm(url, FORM, signal())).resolves.toBe(OK_XML);
    });

    it('maps a TLS handshake with a plain HTTP server to GatewayUnavailableError', async () => {
      const url = await serve((_req, res) => res.end(OK_XML));
      const err = await failure(client().postForm(url.replace('http:', 'https:'), FORM, signal()));
      expect(err).toBeInstanceOf(GatewayUnavailableError);
      expect(err.transient).toBe(false);
    });
  });
});
