import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyRequest } from 'fastify';
import { walletSignature } from '../../gateways/wallet/wallet-signature';
import { applyFaults, listenOn, sameSecret, truncatedJson, type SandboxFaults } from '../sandbox-kit';

export interface WalletSandboxParent {
  /** x-parent-system-id: GPAS's identifier in the operator system. */
  readonly parentSystemId: string;
  /** The secret key the x-signature is computed with. */
  readonly signingKey: string;
  /** Valid bearer auth tokens. */
  readonly authTokens: readonly string[];
  readonly walletIds: readonly string[];
  readonly blockedWalletIds?: readonly string[];
}

/** Documented error types (docs.gpas.live/appendices/error-response), plus the 1010 custom one. */
export type WalletErrorName = 'SYSTEM_ERROR' | 'INVALID_WALLET_SESSION' | 'INVALID_WALLET_ID' | 'SIGNATURE_FAILED' | 'USER_BLOCKED' | 'INVALID_TOKEN';

export interface WalletSandboxFaults extends SandboxFaults {
  readonly on?: 'sessions' | 'close';
  readonly forceError?: WalletErrorName;
}

export interface WalletSandboxOptions {
  readonly parents: readonly WalletSandboxParent[];
  readonly faults?: WalletSandboxFaults;
}

export interface WalletSandbox {
  /** Resolves to the API base a terminal's endpoint_url points at (…/sessions is appended). */
  listen(port: number, host?: string): Promise<string>;
  setFaults(faults: WalletSandboxFaults): void;
  /** Invalidates every auth token (an expired or rotated AuthToken on the operator's side). */
  revokeAuthTokens(replacement?: readonly string[]): void;
  /** OPEN, CLOSE, or undefined for an id the wallet never issued. */
  sessionStatus(id: string): 'OPEN' | 'CLOSE' | undefined;
  close(): Promise<void>;
  /** Requests received (before faults); every x-signature header seen. */
  readonly stats: { sessions: number; closes: number; signatures: string[] };
}

const ERRORS: Record<WalletErrorName, { status: number; code: number; message: string }> = {
  SYSTEM_ERROR: { status: 500, code: 1001, message: 'System error (node wal-02, db timeout)' },
  INVALID_WALLET_SESSION: { status: 400, code: 1004, message: 'Invalid wallet session' },
  INVALID_WALLET_ID: { status: 400, code: 1005, message: 'Invalid wallet id' },
  SIGNATURE_FAILED: { status: 400, code: 1006, message: 'Signature failed: expected digest of operator key v3' },
  USER_BLOCKED: { status: 400, code: 1008, message: 'User Blocked by operator risk rule 17' },
  INVALID_TOKEN: { status: 401, code: 1010, message: 'Invalid authentication token' },
};

/**
 * A stand-in for the operator wallet's Sessions and Close methods (docs.gpas.live): signature
 * over the raw query string plus the parent system's secret key, bearer auth token, sessions that
 * stay OPEN until closed. It never logs.
 */
export function createWalletSandbox(options: WalletSandboxOptions): WalletSandbox {
  let parents = options.parents.map((p) => ({ ...p, authTokens: [...p.authTokens] }));
  const sessions = new Map<string, { parentSystemId: string; walletId: string; status: 'OPEN' | 'CLOSE' }>();
  const stats = { sessions: 0, closes: 0, signatures: [] as string[] };
  const faults = { current: { ...options.faults } };
  const closing = new AbortController();
  const body = (name: WalletErrorName) => ({ code: ERRORS[name].code, type: name, message: ERRORS[name].message });
  const hits = (method: 'sessions' | 'close') => faults.current.on === undefined || faults.current.on === method;

  /** The parent system whose key signed the raw query string, if any. */
  const signedBy = (request: FastifyRequest) => {
    const id = request.headers['x-parent-system-id'];
    const signature = request.headers['x-signature'];
    if (typeof signature === 'string') stats.signatures.push(signature);
    const parent = parents.find((p) => p.parentSystemId === id);
    const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    if (!parent || typeof signature !== 'string' || signature !== walletSignature(query, parent.signingKey)) return undefined;
    return parent;
  };

  const app = Fastify({ logger: false, bodyLimit: 65_536, forceCloseConnections: true });

  app.post<{ Querystring: { walletId?: string } }>('/sessions', async (request, reply) => {
    stats.sessions += 1;
    if (hits('sessions') && (await applyFaults(faults, request, reply, closing.signal, () => body('SYSTEM_ERROR')))) return reply;
    const fail = (name: WalletErrorName) => reply.code(ERRORS[name].status).send(body(name));
    const parent = signedBy(request);
    if (!parent) return fail('SIGNATURE_FAILED');
    const auth = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    if (!auth || !parent.authTokens.some((t) => sameSecret(auth[1], t))) return fail('INVALID_TOKEN');
    if (hits('sessions') && faults.current.forceError) return fail(faults.current.forceError);
    const walletId = request.query.walletId;
    if (!walletId || !parent.walletIds.includes(walletId)) return fail('INVALID_WALLET_ID');
    if (parent.blockedWalletIds?.includes(walletId)) return fail('USER_BLOCKED');

    const id = randomUUID();
    sessions.set(id, { parentSystemId: parent.parentSystemId, walletId, status: 'OPEN' });
    const answer = { id, walletId, created: new Date().toISOString(), status: 'OPEN' };
    if (faults.current.malformedBody) return reply.code(200).type('application/json').send(truncatedJson(answer));
    return reply.code(200).send(answer);
  });

  app.patch<{ Querystring: { id?: string } }>('/sessions/close', async (request, reply) => {
    stats.closes += 1;
    if (hits('close') && (await applyFaults(faults, request, reply, closing.signal, () => body('SYSTEM_ERROR')))) return reply;
    const fail = (name: WalletErrorName) => reply.code(ERRORS[name].status).send(body(name));
    const parent = signedBy(request);
    if (!parent) return fail('SIGNATURE_FAILED');
    if (hits('close') && faults.current.forceError) return fail(faults.current.forceError);
    const session = request.query.id ? sessions.get(request.query.id) : undefined;
    // "If the session ID is not found or is already closed, an appropriate error response should be returned."
    if (!session || session.parentSystemId !== parent.parentSystemId || session.status !== 'OPEN') return fail('INVALID_WALLET_SESSION');
    session.status = 'CLOSE';
    return reply.code(200).send();
  });

  return {
    stats,
    async listen(port: number, host = '127.0.0.1'): Promise<string> {
      return listenOn(app, port, host);
    },
    setFaults(next: WalletSandboxFaults): void {
      faults.current = { ...next };
    },
    revokeAuthTokens(replacement: readonly string[] = []): void {
      parents = parents.map((p) => ({ ...p, authTokens: [...replacement] }));
    },
    sessionStatus(id: string) {
      return sessions.get(id)?.status;
    },
    async close(): Promise<void> {
      closing.abort();
      await app.close();
    },
  };
}
