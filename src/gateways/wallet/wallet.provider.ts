import type { GatewayRejectedError } from '../../common/errors';
import { GatewayProtocolError } from '../../common/errors';
import { jsonObject } from '../../common/outbound-http';
import { gatewayUrl, type GatewayHttpClient, type GatewayHttpResponse } from '../gateway-http.client';
import type { CloseSessionInput, CreateSessionInput, GatewayProvider, GatewaySession } from '../gateway-provider';
import { gatewayRejected, REJECTIONS } from '../gateway-rejections';
import { walletSignature } from './wallet-signature';
import { WALLET_ERRORS, walletErrorSchema, walletSessionSchema, type WalletConfig, type WalletScope } from './wallet.schemas';

/** The wallet's documented codes, named in our wording (its messages stay out). */
const MEANING: ReadonlyMap<number, string> = new Map([
  [WALLET_ERRORS.SYSTEM_ERROR, 'system error'],
  [WALLET_ERRORS.INVALID_WALLET_SESSION, 'invalid wallet session'],
  [WALLET_ERRORS.INVALID_WALLET_ID, 'invalid wallet id'],
  [WALLET_ERRORS.SIGNATURE_FAILED, 'signature failed'],
  [WALLET_ERRORS.USER_BLOCKED, 'user blocked'],
]);

/**
 * Signed wallet sessions (docs.gpas.live, "Sessions" and "Close"): POST /sessions?walletId=… with
 * the bearer auth token, x-parent-system-id and x-signature; PATCH /sessions/close?id=…. The
 * sessions stay open until closed, so they have no expiry.
 */
export class WalletProvider implements GatewayProvider<WalletScope, WalletConfig> {
  readonly name = 'wallet';

  constructor(private readonly http: GatewayHttpClient) {}

  async createSession(input: CreateSessionInput<WalletScope, WalletConfig>): Promise<GatewaySession> {
    const { config } = input.terminal;
    const { authToken, signingKey } = input.credentials;
    if (!config || !input.scope) throw new Error('wallet session without terminal configuration or scope');
    if (!authToken || !signingKey) throw new Error('credentials incomplete');
    const url = signedUrl(input.terminal.endpointUrl, 'sessions', { walletId: input.scope.walletId });

    const res = await this.http.send({
      method: 'POST',
      url,
      headers: {
        authorization: `Bearer ${authToken}`,
        'x-parent-system-id': config.parentSystemId,
        'x-signature': walletSignature(url.search.slice(1), signingKey),
        accept: 'application/json',
      },
      signal: input.signal,
      // No idempotency key: after a 5xx the wallet may have opened a session; a resend would open another.
      retrySafe: false,
    });
    if (res.status !== 200 && res.status !== 201) throw walletError(res, 'refused the session request');
    const parsed = walletSessionSchema.safeParse(jsonObject(res.text));
    if (!parsed.success || parsed.data.status !== 'OPEN' || parsed.data.walletId !== input.scope.walletId) {
      throw new GatewayProtocolError('The wallet answered without an open session for the requested wallet.');
    }
    return { sessionId: parsed.data.id, expiresIn: null, reusable: true, gatewayReference: undefined, resultCode: String(res.status) };
  }

  async closeSession(input: CloseSessionInput<WalletConfig>): Promise<void> {
    const { config } = input.terminal;
    const { signingKey } = input.credentials;
    if (!config) throw new Error('wallet close without terminal configuration');
    if (!signingKey) throw new Error('credentials incomplete');
    const url = signedUrl(input.terminal.endpointUrl, 'sessions/close', { id: input.sessionId });
    const res = await this.http.send({
      method: 'PATCH',
      url,
      headers: {
        'x-parent-system-id': config.parentSystemId,
        'x-signature': walletSignature(url.search.slice(1), signingKey),
        accept: 'application/json',
      },
      signal: input.signal,
    });
    if (res.status >= 200 && res.status <= 299) return;
    // "If the session ID is not found or is already closed" the wallet answers 1004: for the
    // broker, whose audit trail proves the session was issued here, that means already closed.
    if (walletErrorSchema.safeParse(jsonObject(res.text)).data?.code === WALLET_ERRORS.INVALID_WALLET_SESSION) return;
    throw walletError(res, 'refused to close the session');
  }
}

/** The endpoint plus path and query; the signature covers url.search exactly as it is sent. */
function signedUrl(endpointUrl: string, path: string, query: Record<string, string>): URL {
  const url = gatewayUrl(endpointUrl, path);
  url.search = new URLSearchParams(query).toString();
  return url;
}

function walletError(res: GatewayHttpResponse, what: string): GatewayRejectedError {
  const code = walletErrorSchema.safeParse(jsonObject(res.text)).data?.code;
  const kind =
    res.status === 401 || code === WALLET_ERRORS.SIGNATURE_FAILED
      ? REJECTIONS.merchantAuth
      : res.status === 403
        ? REJECTIONS.terminalNotEnabled
        : res.status === 429
          ? REJECTIONS.rateLimited
          : REJECTIONS.general;
  const meaning = code === undefined ? undefined : (MEANING.get(code) ?? 'operator-specific error');
  const shown = code === undefined ? `HTTP ${res.status}` : `HTTP ${res.status}, code ${code}: ${meaning}`;
  return gatewayRejected(kind, code === undefined ? String(res.status) : String(code), `The wallet ${what} (${shown}).`);
}
