import { createHash, randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { applyFaults, listenOn, sameSecret, truncatedJson, type SandboxFaults } from '../sandbox-kit';
import { payrocProblem, type PayrocErrorName } from './payroc-sandbox-responses';

export interface PayrocSandboxMerchant {
  readonly apiKey: string;
  /** Processing terminals this API key may create Hosted Fields sessions for. */
  readonly processingTerminalIds: readonly string[];
  /** Terminals that exist but lack the Hosted Fields capability. */
  readonly withoutHostedFields?: readonly string[];
}

export interface PayrocSandboxFaults extends SandboxFaults {
  /** Which endpoint the generic faults hit (default both). */
  readonly on?: 'identity' | 'sessions';
  /** Every Hosted Fields session request gets this documented error instead. */
  readonly forceError?: PayrocErrorName;
}

export interface PayrocSandboxOptions {
  readonly merchants: readonly PayrocSandboxMerchant[];
  /** expires_in of bearer tokens (Payroc's example: 3600). */
  readonly tokenTtlSeconds?: number;
  /** Session token lifetime ("A session token expires after 10 minutes"). */
  readonly sessionTtlSeconds?: number;
  readonly faults?: PayrocSandboxFaults;
  readonly now?: () => number;
}

export interface PayrocSandbox {
  /** Resolves to the origin, e.g. http://127.0.0.1:41234; identityUrl and apiUrl are then set. */
  listen(port: number, host?: string): Promise<string>;
  /** POST here with x-api-key (the Identity Service). */
  readonly identityUrl: string;
  /** The API base a terminal's endpoint_url points at (…/v1). */
  readonly apiUrl: string;
  setFaults(faults: PayrocSandboxFaults): void;
  setTokenTtl(seconds: number): void;
  /** Revokes every bearer token issued so far (as an early expiry on Payroc's side would). */
  expireTokens(): void;
  /** Every bearer token handed out (for tests that check no secret leaked). */
  issuedBearerTokens(): readonly string[];
  /** Whether a session token was issued by this sandbox and is still valid. */
  isLiveSession(token: string): boolean;
  close(): Promise<void>;
  /** Requests received, counted before any fault applies; the Idempotency-Key of each session request. */
  readonly stats: { identity: number; sessions: number; idempotencyKeys: string[] };
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const SCENARIOS = new Set(['payment', 'tokenization']);

/**
 * A stand-in for Payroc's Identity Service and Hosted Fields session endpoint (docs.payroc.com,
 * "Authenticate your session"), with bearer-token expiry, idempotent replays and fault injection.
 * It never logs: requests carry API keys and tokens.
 */
export function createPayrocSandbox(options: PayrocSandboxOptions): PayrocSandbox {
  const now = options.now ?? Date.now;
  let tokenTtl = options.tokenTtlSeconds ?? 3600;
  const sessionTtl = options.sessionTtlSeconds ?? 600;
  const tokens = new Map<string, { merchant: PayrocSandboxMerchant; expiresAt: number }>();
  const sessions = new Map<string, number>();
  const issuedBearer: string[] = [];
  const replays = new Map<string, { bodyHash: string; answer: object }>();
  const stats = { identity: 0, sessions: 0, idempotencyKeys: [] as string[] };
  const faults = { current: { ...options.faults } };
  const closing = new AbortController();
  let origin = '';

  const problem = (name: PayrocErrorName, errors?: ReadonlyArray<Record<string, string>>) => payrocProblem(name, errors);
  const errorBody = (status: number) => (status === 500 ? problem('api-error').body : { ...problem('api-error').body, status, title: 'Service unavailable' });
  const hits = (endpoint: 'identity' | 'sessions') => faults.current.on === undefined || faults.current.on === endpoint;

  const app = Fastify({ logger: false, bodyLimit: 65_536, forceCloseConnections: true });

  app.post('/authorize', async (request, reply) => {
    stats.identity += 1;
    if (hits('identity') && (await applyFaults(faults, request, reply, closing.signal, errorBody))) return reply;
    const given = request.headers['x-api-key'];
    const merchant = typeof given === 'string' ? options.merchants.find((m) => sameSecret(given, m.apiKey)) : undefined;
    if (!merchant) {
      const p = problem('unauthorized');
      return reply.code(p.status).type('application/problem+json').send(p.body);
    }
    const token = randomBytes(24).toString('base64url');
    tokens.set(token, { merchant, expiresAt: now() + tokenTtl * 1000 });
    issuedBearer.push(token);
    const answer = { access_token: token, expires_in: tokenTtl, scope: 'hosted-fields payments', token_type: 'Bearer' };
    if (hits('identity') && faults.current.malformedBody) return reply.code(200).type('application/json').send(truncatedJson(answer));
    return reply.code(200).send(answer);
  });

  app.post<{ Params: { id: string } }>('/v1/processing-terminals/:id/hosted-fields-sessions', async (request, reply) => {
    stats.sessions += 1;
    const key = request.headers['idempotency-key'];
    stats.idempotencyKeys.push(typeof key === 'string' ? key : '');
    if (hits('sessions') && (await applyFaults(faults, request, reply, closing.signal, errorBody))) return reply;
    const send = (p: { status: number; body: object }) => reply.code(p.status).type('application/problem+json').send(p.body);

    const auth = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    const bearer = auth ? tokens.get(auth[1]) : undefined;
    if (!bearer || now() >= bearer.expiresAt) return send(problem('unauthorized'));
    if (faults.current.forceError) return send(problem(faults.current.forceError));

    const { id } = request.params;
    const body = request.body as Record<string, unknown> | undefined;
    const invalid: Array<Record<string, string>> = [];
    if (typeof key !== 'string' || !UUID_V4.test(key)) invalid.push({ parameter: 'Idempotency-Key', detail: 'invalid uuid', message: 'Expected a UUID v4' });
    if (typeof body?.libVersion !== 'string' || body.libVersion === '')
      invalid.push({ parameter: 'libVersion', detail: 'required', message: 'libVersion is required' });
    if (typeof body?.scenario !== 'string' || !SCENARIOS.has(body.scenario))
      invalid.push({ parameter: 'scenario', detail: 'invalid value', message: 'Expected payment or tokenization' });
    if (invalid.length > 0) return send(problem('bad-request', invalid));

    if (!bearer.merchant.processingTerminalIds.includes(id)) {
      return send(problem(options.merchants.some((m) => m.processingTerminalIds.includes(id)) ? 'forbidden' : 'not-found'));
    }
    if (bearer.merchant.withoutHostedFields?.includes(id)) return send(problem('capabilities-missing'));

    // Same key and body: the stored answer again. Same key, other body: a conflict.
    const bodyHash = createHash('sha256')
      .update(`${id}\n${JSON.stringify(body)}`)
      .digest('hex');
    const replay = replays.get(key as string);
    if (replay) return replay.bodyHash === bodyHash ? reply.code(201).send(replay.answer) : send(problem('conflict'));

    const token = randomBytes(16).toString('hex');
    const expiresAt = now() + sessionTtl * 1000;
    sessions.set(token, expiresAt);
    const answer = { processingTerminalId: id, token, expiresAt: new Date(expiresAt).toISOString() };
    replays.set(key as string, { bodyHash, answer });
    if (faults.current.malformedBody) return reply.code(201).type('application/json').send(truncatedJson(answer));
    return reply.code(201).header('location', `${origin}/v1/processing-terminals/${id}/hosted-fields-sessions`).send(answer);
  });

  return {
    stats,
    get identityUrl() {
      return `${origin}/authorize`;
    },
    get apiUrl() {
      return `${origin}/v1`;
    },
    async listen(port: number, host = '127.0.0.1'): Promise<string> {
      origin = await listenOn(app, port, host);
      return origin;
    },
    setFaults(next: PayrocSandboxFaults): void {
      faults.current = { ...next };
    },
    setTokenTtl(seconds: number): void {
      tokenTtl = seconds;
    },
    expireTokens(): void {
      tokens.clear();
    },
    issuedBearerTokens: () => [...issuedBearer],
    isLiveSession(token: string): boolean {
      const expiresAt = sessions.get(token);
      return expiresAt !== undefined && now() < expiresAt;
    },
    async close(): Promise<void> {
      closing.abort();
      await app.close();
    },
  };
}
