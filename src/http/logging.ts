import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { Params } from 'nestjs-pino';
import pino, { type DestinationStream } from 'pino';
import type { Config } from '../config/config.schema';

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

type RawRequest = IncomingMessage & { id?: string; deviceId?: string; terminalNumber?: string; loggedUrl?: string };

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
    return encodeURIComponent(String(params[name] ?? ''));
  });
  if (!secret) return;
  const q = request.url.indexOf('?');
  (request.raw as RawRequest).loggedUrl = q < 0 ? path : path + request.url.slice(q);
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

function completionFields(req: IncomingMessage, res: ServerResponse, fields: object): object {
  return {
    ...fields,
    deviceId: (req as RawRequest).deviceId,
    terminal: (req as RawRequest).terminalNumber,
    outcome: res.statusCode < 400 ? 'ok' : res.statusCode < 500 ? 'denied' : 'failed',
  };
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

/** One line per request: request id, device, route, status, outcome, latency. */
export function loggerOptions(config: Config, destination: DestinationStream = bufferedStdout()): Params {
  return {
    pinoHttp: [
      {
        level: config.LOG_LEVEL,
        redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
        genReqId: (req: IncomingMessage) => (req as RawRequest).id ?? 'unknown',
        customAttributeKeys: { reqId: 'requestId' },
        // Added once, when the response is finished (customProps would repeat them).
        customSuccessObject: completionFields,
        customErrorObject: (req: IncomingMessage, res: ServerResponse, _err: Error, fields: object) =>
          completionFields(req, res, fields),
        serializers: {
          req: (req: { method: string; url: string; raw?: RawRequest }) => ({ method: req.method, url: req.raw?.loggedUrl ?? redactSessionPath(req.url) }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
        customSuccessMessage: () => 'request completed',
        customErrorMessage: () => 'request failed',
        quietReqLogger: true,
      },
      destination,
    ],
  };
}
