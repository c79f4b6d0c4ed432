import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify from 'fastify';
import { HYP_SCOPE_COMMANDS, HYP_TRANSACTION_TYPES, HYP_VALIDATIONS, canonicalize } from '../../gateways/hyp/hyp-scope';
import { parseHypRequest } from '../../gateways/hyp/hyp-xml';
import { sameSecret } from '../sandbox-kit';
import { HTTP_500_PAGE, type Envelope, commandResponse, doDealResponse, getSessionIdResponse, hypDateTime, truncatedResponse } from './hyp-sandbox-responses';
import { SandboxSessionStore, type SandboxScope, type SandboxSession } from './hyp-sandbox.state';

export interface SandboxTerminal {
  readonly user: string;
  readonly password: string;
  /** Hyp answers 455 for terminals not enabled for sessions. Default true. */
  readonly sessionsEnabled?: boolean;
}

export interface SandboxFaults {
  readonly latencyMs?: number;
  /** Result code every getSessionId gets instead of its real one, e.g. '457'. */
  readonly forceResult?: string;
  readonly http500?: boolean;
  readonly malformedBody?: boolean;
  readonly dropConnection?: boolean;
}

export interface HypSandboxOptions {
  readonly terminals: Record<string, SandboxTerminal>;
  readonly sessionTtlSeconds?: number;
  /** false (the default) makes sessions single-use, as Hyp documents them. */
  readonly sessionReuse?: boolean;
  readonly faults?: SandboxFaults;
  readonly now?: () => number;
}

export interface HypSandbox {
  /** Resolves to the full Relay URL, e.g. http://127.0.0.1:8081/xpo/Relay. */
  listen(port: number, host?: string): Promise<string>;
  setFaults(faults: SandboxFaults): void;
  setTerminal(terminalNumber: string, config: SandboxTerminal): void;
  close(): Promise<void>;
  /** Requests received per mode, counted before any fault applies (retries show up here). */
  readonly stats: { getSessionId: number; sessionCommands: number };
}

type Form = ReadonlyMap<string, string>;
type Xml = Record<string, unknown>;

const RELAY_PATH = '/xpo/Relay';
const BODY_LIMIT = 65_536;

/**
 * A stand-in for the Hyp Relay endpoint: getSessionId with user/password, and session-authenticated
 * commands with sessionId, including single use, expiry and scope enforcement. It never logs: the
 * forms it receives carry passwords and sessionIds.
 */
export function createHypSandbox(options: HypSandboxOptions): HypSandbox {
  const now = options.now ?? Date.now;
  const ttlSeconds = options.sessionTtlSeconds ?? 600;
  const reuse = options.sessionReuse ?? false;
  // A Map, not the options object: a terminal number like "__proto__" must not find anything.
  const terminals = new Map(Object.entries(options.terminals));
  const store = new SandboxSessionStore(now);
  const stats = { getSessionId: 0, sessionCommands: 0 };
  const closing = new AbortController();
  let faults: SandboxFaults = { ...options.faults };
  let tranId = 100_000_000;

  const envelope = (command: string, requestId: string, result: string): Envelope => ({
    command,
    dateTime: hypDateTime(now()),
    requestId,
    tranId: String(++tranId),
    result,
  });

  function getSessionId(form: Form, forceResult: string | undefined): string {
    const request = tryParse(form.get('int_in'));
    const requestId = requestIdOf(request);
    if (!request || text(request.command) !== 'getSessionId') {
      return commandResponse(envelope(text(request?.command) ?? '', requestId, '303'));
    }
    const reply = (result: string, session?: Parameters<typeof getSessionIdResponse>[1]) =>
      getSessionIdResponse(envelope('getSessionId', requestId, result), session);

    if (forceResult && forceResult !== '000') return reply(forceResult);
    const body = record(request.getSessionId);
    const terminalNumber = text(body?.terminalNumber);
    const terminal = terminalNumber !== undefined ? terminals.get(terminalNumber) : undefined;
    if (!terminal || !sameSecret(form.get('user'), terminal.user) || !sameSecret(form.get('password'), terminal.password)) {
      return reply('405');
    }
    if (terminal.sessionsEnabled === false) return reply('455');
    const scope = readScope(body?.scope);
    if (!scope) return reply('303');

    const sessionId = store.issue(terminalNumber as string, scope, ttlSeconds);
    return reply('000', { sessionId, sessionExpiration: ttlSeconds, sessionReUse: reuse });
  }

  function sessionCommand(form: Form, sessionId: string): string {
    const request = tryParse(form.get('int_in'));
    const requestId = requestIdOf(request);
    const command = text(request?.command);
    if (!request || command === undefined) return commandResponse(envelope(command ?? '', requestId, '303'));
    const details = Object.hasOwn(request, command) ? record(request[command]) : undefined;

    const result = store.use(sessionId, reuse, (session) => permits(session, command, details));
    const env = envelope(command, requestId, result);
    if (result !== '000' || command !== 'doDeal') return commandResponse(env);
    return doDealResponse(env, {
      terminalNumber: text(details?.terminalNumber) ?? '',
      cardNo: text(details?.cardNo),
      total: text(details?.total),
      transactionType: text(details?.transactionType),
      creditType: text(details?.creditType),
      currency: text(details?.currency),
      transactionCode: text(details?.transactionCode),
      validation: text(details?.validation),
    });
  }

  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, forceCloseConnections: true });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, parseForm(body as string));
  });

  app.post(RELAY_PATH, async (request, reply) => {
    const form = request.body instanceof Map ? (request.body as Form) : new Map<string, string>();
    const sessionId = form.get('sessionId');
    if (sessionId !== undefined) stats.sessionCommands += 1;
    else stats.getSessionId += 1;

    const drop = () => {
      reply.hijack();
      request.raw.socket.destroy();
      return reply;
    };
    const f = faults;
    if (f.dropConnection) return drop();
    if (f.latencyMs && f.latencyMs > 0) {
      // A closing sandbox drops what it is still sitting on, as a gateway going down would.
      const slept = await sleep(f.latencyMs, true, { signal: closing.signal }).catch(() => false);
      if (!slept) return drop();
    }
    if (f.http500) return reply.code(500).type('text/html; charset=utf-8').send(HTTP_500_PAGE);

    const xml = f.malformedBody
      ? truncatedResponse(envelope('getSessionId', '', '000'))
      : sessionId !== undefined
        ? sessionCommand(form, sessionId)
        : getSessionId(form, f.forceResult);
    return reply.code(200).type('application/xml; charset=utf-8').send(xml);
  });

  return {
    stats,
    async listen(port: number, host = '127.0.0.1'): Promise<string> {
      await app.listen({ port, host });
      const { port: actual } = app.server.address() as AddressInfo;
      return `http://${host.includes(':') ? `[${host}]` : host}:${actual}${RELAY_PATH}`;
    },
    setFaults(next: SandboxFaults): void {
      faults = { ...next };
    },
    setTerminal(terminalNumber: string, config: SandboxTerminal): void {
      terminals.set(terminalNumber, { ...config });
    },
    async close(): Promise<void> {
      closing.abort();
      await app.close();
    },
  };
}

/** First occurrence wins, as in a servlet's getParameter. */
function parseForm(body: string): Form {
  const form = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(body)) if (!form.has(key)) form.set(key, value);
  return form;
}

function tryParse(xml: string | undefined): Xml | undefined {
  try {
    return xml === undefined ? undefined : parseHypRequest(xml);
  } catch {
    return undefined;
  }
}

function record(value: unknown): Xml | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Xml) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The docs spell it both `requestId` and `requestid`. */
function requestIdOf(request: Xml | undefined): string {
  return text(request?.requestId) ?? text(request?.requestid) ?? '';
}

/** The requested scope in documented spelling; undefined when Hyp would refuse it. */
function readScope(value: unknown): SandboxScope | undefined {
  if (value === undefined || value === '') return {};
  const scope = record(value);
  if (!scope) return undefined;
  // null marks a value that is present but not documented.
  const pick = (raw: unknown, list: readonly string[]) => {
    const v = text(raw);
    return v === undefined ? undefined : (canonicalize(list, v) ?? null);
  };
  const scopeCmd = pick(scope.scopeCmd, HYP_SCOPE_COMMANDS);
  const validation = pick(scope.validation, HYP_VALIDATIONS);
  const transactionType = pick(scope.transactionType, HYP_TRANSACTION_TYPES);
  if (scopeCmd === null || validation === null || transactionType === null) return undefined;
  // Hyp documents scopeCmd as mandatory once either of the others is given.
  if (scopeCmd === undefined && (validation !== undefined || transactionType !== undefined)) return undefined;
  return { scopeCmd, validation, transactionType };
}

function sameIgnoringCase(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}

function permits(session: SandboxSession, command: string, details: Xml | undefined): boolean {
  const { scopeCmd, validation, transactionType } = session.scope;
  if (scopeCmd !== undefined && command !== scopeCmd) return false;
  if (text(details?.terminalNumber) !== session.terminalNumber) return false;
  if (command === 'doDeal') {
    if (validation !== undefined && !sameIgnoringCase(text(details?.validation), validation)) return false;
    if (transactionType !== undefined && !sameIgnoringCase(text(details?.transactionType), transactionType)) return false;
  }
  return true;
}
