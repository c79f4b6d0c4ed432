import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { applyFaults, listenOn, sameSecret, type SandboxFaults, truncatedJson } from '../sandbox-kit';

export type ReportingAccount = 'gateway' | 'merchant-central';

export interface EmbeddedSandboxKey {
  readonly apiKey: string;
  /** Which account the secret API key belongs to. */
  readonly account: ReportingAccount;
}

/** The error bodies the sandbox answers with (NMI's {type, message} error shape). */
export type EmbeddedErrorName = 'validation' | 'unauthorized' | 'forbidden' | 'rate-limited';

export interface EmbeddedSandboxFaults extends SandboxFaults {
  readonly forceError?: EmbeddedErrorName;
}

export interface EmbeddedSandboxOptions {
  readonly keys: readonly EmbeddedSandboxKey[];
  /** "15 minutes by default". */
  readonly sessionTtlSeconds?: number;
  readonly faults?: EmbeddedSandboxFaults;
  readonly now?: () => number;
}

export interface EmbeddedComponentsSandbox {
  /** Resolves to the session-creation URL a terminal's endpoint_url points at. */
  listen(port: number, host?: string): Promise<string>;
  setFaults(faults: EmbeddedSandboxFaults): void;
  /** Replaces the valid API keys (a rotation on the Reporting API's side). */
  setKeys(keys: readonly EmbeddedSandboxKey[]): void;
  /** The account a live session token was issued for, undefined once unknown or expired. */
  sessionAccount(token: string): ReportingAccount | undefined;
  close(): Promise<void>;
  readonly stats: { sessions: number; issued: number };
}

export const EMBEDDED_SESSIONS_PATH = '/v1/embedded-components/sessions';

const ERRORS: Record<EmbeddedErrorName | 'server', { status: number; body: { type: string; message: string } }> = {
  validation: { status: 400, body: { type: 'validation_error', message: 'Specify exactly one of gateway or merchant-central (request 5f1c on rpt-api-3)' } },
  unauthorized: { status: 401, body: { type: 'authentication_error', message: 'Invalid API key for tenant 90417' } },
  forbidden: { status: 403, body: { type: 'permission_error', message: 'API key scope does not include this account (policy rpt.sessions.create)' } },
  'rate-limited': { status: 429, body: { type: 'rate_limit_error', message: 'Too many session requests for tenant 90417' } },
  server: { status: 500, body: { type: 'api_error', message: 'Internal Server Error at reporting-api-7f9c' } },
};

/**
 * A stand-in for the Reporting API's "Create a Session" (embedded components): the account's
 * secret API key in Authorization, a body naming gateway or merchant-central (both: validation
 * error), a new short-lived session_token on every call. It never logs.
 */
export function createEmbeddedComponentsSandbox(options: EmbeddedSandboxOptions): EmbeddedComponentsSandbox {
  const now = options.now ?? Date.now;
  const ttl = options.sessionTtlSeconds ?? 900;
  let keys = [...options.keys];
  const sessions = new Map<string, { account: ReportingAccount; expiresAt: number }>();
  const stats = { sessions: 0, issued: 0 };
  const faults = { current: { ...options.faults } };
  const closing = new AbortController();

  const app = Fastify({ logger: false, bodyLimit: 65_536, forceCloseConnections: true });
  app.post(EMBEDDED_SESSIONS_PATH, async (request, reply) => {
    stats.sessions += 1;
    if (await applyFaults(faults, request, reply, closing.signal, (status) => ({ ...ERRORS.server.body, status }))) return reply;
    const fail = (name: keyof typeof ERRORS) => reply.code(ERRORS[name].status).send(ERRORS[name].body);
    const given = request.headers.authorization;
    const key = typeof given === 'string' ? keys.find((k) => sameSecret(given, k.apiKey)) : undefined;
    if (!key) return fail('unauthorized');
    if (faults.current.forceError) return fail(faults.current.forceError);

    const body = (request.body ?? {}) as Record<string, unknown>;
    const named = (['gateway', 'merchant-central'] as const).filter((a) => body[a] !== undefined && body[a] !== false);
    if (named.length !== 1) return fail('validation');
    if (named[0] !== key.account) return fail('forbidden');

    const token = `ecs_${randomBytes(24).toString('base64url')}`;
    sessions.set(token, { account: key.account, expiresAt: now() + ttl * 1000 });
    stats.issued += 1;
    const answer = { session_token: token, expires_in: ttl };
    if (faults.current.malformedBody) return reply.code(200).type('application/json').send(truncatedJson(answer));
    return reply.code(200).send(answer);
  });

  return {
    stats,
    async listen(port: number, host = '127.0.0.1'): Promise<string> {
      return `${await listenOn(app, port, host)}${EMBEDDED_SESSIONS_PATH}`;
    },
    setFaults(next: EmbeddedSandboxFaults): void {
      faults.current = { ...next };
    },
    setKeys(next: readonly EmbeddedSandboxKey[]): void {
      keys = [...next];
    },
    sessionAccount(token: string): ReportingAccount | undefined {
      const s = sessions.get(token);
      return s && now() < s.expiresAt ? s.account : undefined;
    },
    async close(): Promise<void> {
      closing.abort();
      await app.close();
    },
  };
}
