import { randomUUID } from 'node:crypto';
import { GatewayProtocolError } from '../../common/errors';
import { jsonObject } from '../../common/outbound-http';
import { gatewayUrl, type GatewayHttpClient, type GatewayHttpResponse } from '../gateway-http.client';
import type { CreateSessionInput, GatewayProvider, GatewaySession } from '../gateway-provider';
import { payrocError } from './payroc-errors';
import { hostedFieldsSessionSchema, identityResponseSchema, type PayrocConfig, type PayrocScope } from './payroc.schemas';
import { PayrocTokenCache, type BearerToken } from './payroc-token.cache';

export interface PayrocProviderOptions {
  /** Refresh a bearer token this long before it expires. */
  readonly tokenRefreshMarginMs: number;
  /** The Identity Service call's own time limit (it is shared by every caller waiting for it). */
  readonly identityTimeoutMs: number;
  readonly now?: () => number;
}

/**
 * Payroc Hosted Fields (docs.payroc.com, "Authenticate your session"): a bearer token from the
 * Identity Service (API key in x-api-key), then a session token from the processing terminal's
 * hosted-fields-sessions endpoint. One attempt per call, as for every provider: the issuer retries.
 */
export class PayrocGatewayProvider implements GatewayProvider<PayrocScope, PayrocConfig> {
  readonly name = 'payroc';
  private readonly tokens: PayrocTokenCache;
  private readonly now: () => number;

  constructor(
    private readonly http: GatewayHttpClient,
    private readonly options: PayrocProviderOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.tokens = new PayrocTokenCache(options.tokenRefreshMarginMs, (url, key) => this.authorize(url, key), this.now);
  }

  async createSession(input: CreateSessionInput<PayrocScope, PayrocConfig>): Promise<GatewaySession> {
    const { config } = input.terminal;
    const apiKey = input.credentials.apiKey;
    if (!config || !input.scope) throw new Error('payroc session without terminal configuration or scope');
    if (!apiKey) throw new Error('credentials incomplete');
    const url = gatewayUrl(input.terminal.endpointUrl, `processing-terminals/${encodeURIComponent(config.processingTerminalId)}/hosted-fields-sessions`);
    // The same key on both attempts below and on every retry of this device request.
    const idempotencyKey = input.idempotencyKey ?? randomUUID();
    const body = JSON.stringify({ libVersion: input.scope.libVersion, scenario: input.scope.scenario });

    const post = async (token: string) =>
      this.http.send({
        method: 'POST',
        url,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
          'idempotency-key': idempotencyKey,
        },
        body,
        signal: input.signal,
      });

    const token = await this.tokens.get(config.identityUrl, apiKey, input.signal);
    let res = await post(token);
    if (res.status === 401) {
      // Expired or revoked before we expected: one fresh token (shared with every other caller).
      this.tokens.invalidate(config.identityUrl, apiKey, token);
      res = await post(await this.tokens.get(config.identityUrl, apiKey, input.signal));
    }
    return this.session(res, config);
  }

  private session(res: GatewayHttpResponse, config: PayrocConfig): GatewaySession {
    if (res.status !== 200 && res.status !== 201) throw payrocError(res.status, res.text, 'session');
    const parsed = hostedFieldsSessionSchema.safeParse(jsonObject(res.text));
    if (!parsed.success) throw new GatewayProtocolError('The Payroc gateway answered without a valid session token.');
    const s = parsed.data;
    if (s.processingTerminalId !== undefined && s.processingTerminalId !== config.processingTerminalId) {
      throw new GatewayProtocolError('The Payroc gateway answered for another processing terminal.');
    }
    const expiresIn = Math.floor((Date.parse(s.expiresAt) - this.now()) / 1000);
    if (expiresIn <= 0) throw new GatewayProtocolError('The Payroc gateway answered with an expired session token.');
    // "You can use a session token only once for each instance of Hosted Fields."
    return { sessionId: s.token, expiresIn, reusable: false, gatewayReference: undefined, resultCode: String(res.status) };
  }

  private async authorize(identityUrl: string, apiKey: string): Promise<BearerToken> {
    const res = await this.http.send({
      method: 'POST',
      url: gatewayUrl(identityUrl),
      headers: { 'x-api-key': apiKey, accept: 'application/json' },
      signal: AbortSignal.timeout(this.options.identityTimeoutMs),
    });
    if (res.status !== 200 && res.status !== 201) throw payrocError(res.status, res.text, 'identity');
    const parsed = identityResponseSchema.safeParse(jsonObject(res.text));
    if (!parsed.success || (parsed.data.token_type !== undefined && parsed.data.token_type.toLowerCase() !== 'bearer')) {
      throw new GatewayProtocolError('The Payroc Identity Service answered without a valid bearer token.');
    }
    return { token: parsed.data.access_token, expiresIn: parsed.data.expires_in };
  }
}
