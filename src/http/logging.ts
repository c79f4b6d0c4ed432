import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PinoLogger, type Params } from 'nestjs-pino';
import pino, { type DestinationStream } from 'pino';
import type { Config } from '../config/config.schema';
import { requestContext } from './request-context';

/**
 * Paths pino blanks out wherever they appear in a log object. Our code never logs these on
 * purpose; redaction is the net under a mistake (tests check captured logs for secrets).
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.sessionId',
  '*.secret',
  '*.token',
  '*.privateKey',
  '*.credentials',
  'password',
  'sessionId',
  'credentials',
  // Vault: the broker's token and login material, wherever a mistake might put them.
  'req.headers["x-vault-token"]',
  '*.headers["x-vault-token"]',
  '*.client_token',
  '*.clientToken',
  '*.secret_id',
  '*.role_id',
  '*.jwt',
  '*.VAULT_TOKEN',
  '*.VAULT_APPROLE_SECRET_ID',
  'client_token',
  'secret_id',
  'jwt',
  'token',
  'VAULT_TOKEN',
  'VAULT_APPROLE_SECRET_ID',
];

/**
 * The request line's own net. The line is built field by field in installRequestLog (no headers,
 * no body, the URL's secret parameters already blanked), so only these names could ever appear in
 * it by mistake; REDACTED_PATHS, with its wildcards, cost 14 µs of CPU per line against 2 µs for
 * these (measured with pino 10), a real share of a session's CPU.
 */
export const REQUEST_LINE_REDACTED_PATHS = ['sessionId', 'token', 'password', 'secret', 'credentials', 'jwt', 'req.headers', 'req.body', 'res.headers'];

/** Route parameters that carry a secret (DELETE /v1/sessions/:sessionId): never logged. */
const SECRET_PARAMS = new Set(['sessionId']);

/**
 * The URL a request's log line shows, decided on the route the request reached (its pattern and
 * parameters), not on how the client spelled the path: /v1/%73essions/<id> reaches the same route
 * as /v1/sessions/<id>, and its sessionId must be blanked the same way. Called from an onRequest
 * hook (app.factory.ts), when Fastify has matched the route.
 */
export function rememberLoggedUrl(request: FastifyRequest): void {
  const pattern = request.routeOptions.url;
  if (pattern === undefined || !pattern.includes(':')) return;
  const params = (request.params ?? {}) as Record<string, unknown>;
  let secret = false;
  const path = pattern.replace(/:(\w+)/g, (_m, name: string) => {
    if (SECRET_PARAMS.has(name)) {
      secret = true;
      return '[redacted]';
    }
    const value = params[name];
    return encodeURIComponent(typeof value === 'string' ? value : '');
  });
  if (!secret) return;
  const q = request.url.indexOf('?');
  requestContext(request).loggedUrl = q < 0 ? path : path + request.url.slice(q);
}

/**
 * A logger of its own for the request line, writing to the application logger's destination at its
 * level, with the request line's redaction list. Plain serializers: the line holds plain objects.
 */
function requestLineLogger(root: pino.Logger | undefined): pino.Logger | undefined {
  if (!root) return undefined;
  const plain = (value: unknown) => value;
  const stream = (root as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  return pino(
    { level: root.level, redact: { paths: REQUEST_LINE_REDACTED_PATHS, censor: '[redacted]' }, serializers: { req: plain, res: plain, err: plain } },
    stream,
  );
}

/**
 * Fallback for requests no route matched (404): a path that, decoded, starts with /v1/sessions/
 * is blanked after that prefix, whatever its spelling (%73essions, //v1, upper case).
 */
export function redactSessionPath(url: string): string {
  const q = url.search(/[?#]/);
  const path = q < 0 ? url : url.slice(0, q);
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    /* malformed escapes: match on the raw path */
  }
  if (!/^\/+v1\/+sessions\/+[^/]/i.test(decoded)) return url;
  return '/v1/sessions/[redacted]' + (q < 0 ? '' : url.slice(q));
}

let stdoutDestination: ReturnType<typeof pino.destination> | undefined;

/**
 * Log lines are buffered (4 KiB) and written asynchronously: a write system call per request
 * line was the single largest CPU cost on the issuance path. Flushed on shutdown.
 */
function bufferedStdout(): DestinationStream {
  stdoutDestination ??= pino.destination({ dest: 1, sync: false, minLength: 4096 });
  return stdoutDestination;
}

/** Writes out buffered log lines (graceful shutdown, before exit). */
export function flushLogs(): void {
  try {
    stdoutDestination?.flushSync();
  } catch {
    /* stdout closed: nothing more can be done */
  }
}

/**
 * The application logger (Nest's Logger through nestjs-pino, redacted, buffered). Its per-request
 * middleware (pino-http through @fastify/middie, with an AsyncLocalStorage per request) is not
 * installed (`forRoutes: []`): that machinery cost more CPU per session than the line it wrote
 * (BENCHMARKS.md, Steps), and an AsyncLocalStorage once used puts a promise hook on every promise
 * of the process. The request line comes from Fastify's own onResponse hook (installRequestLog);
 * logs written during a request name their request id themselves (send-problem.ts).
 */
export function loggerOptions(config: Config, destination: DestinationStream = bufferedStdout()): Params {
  return {
    forRoutes: [],
    pinoHttp: [
      {
        level: config.LOG_LEVEL,
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      },
      destination,
    ],
  };
}

/**
 * One line per request, from Fastify's onResponse hook: request id, method and URL (secrets in
 * route parameters blanked, see rememberLoggedUrl), status, latency, device, terminal, outcome.
 * The same fields and messages pino-http wrote: "request completed", or "request failed" with an
 * `err` for 5xx answers.
 */
export function installRequestLog(fastify: FastifyInstance): void {
  let logger: pino.Logger | undefined;
  fastify.addHook('onResponse', (request, reply, done) => {
    // The root is set when the application initialises (LoggerModule), before the first request.
    logger ??= requestLineLogger(PinoLogger.root);
    if (logger?.isLevelEnabled('info')) {
      const context = requestContext(request);
      const status = reply.statusCode;
      const line = {
        requestId: request.id,
        req: { method: request.method, url: context.loggedUrl ?? redactSessionPath(request.url) },
        res: { statusCode: status },
        responseTime: Math.round(reply.elapsedTime),
        deviceId: context.deviceId,
        terminal: context.terminalNumber,
        outcome: status < 400 ? 'ok' : status < 500 ? 'denied' : 'failed',
      };
      if (status >= 500) logger.info({ ...line, err: { type: 'Error', message: `failed with status code ${status}` } }, 'request failed');
      else logger.info(line, 'request completed');
    }
    done();
  });
}
