import { GatewayProtocolError } from '../../common/errors';
import { jsonObject } from '../../common/outbound-http';
import { gatewayUrl, type GatewayHttpClient } from '../gateway-http.client';
import type { CreateSessionInput, GatewayProvider, GatewaySession } from '../gateway-provider';
import { gatewayRejected, REJECTIONS } from '../gateway-rejections';
import {
  API_KEY_FIELD,
  componentSessionSchema,
  DEFAULT_SESSION_SECONDS,
  reportingApiOf,
  type EmbeddedConfig,
  type EmbeddedScope,
} from './embedded-components.schemas';

/**
 * Embedded-component sessions of the Reporting API (docs.nmi.com, "Create a Session"): the
 * account's secret API key creates a short-lived session_token. Every call is a new issuance, so
 * a device asking again before expiry (rotation) gets a new token and a new audit record.
 */
export class EmbeddedComponentsProvider implements GatewayProvider<EmbeddedScope, EmbeddedConfig> {
  readonly name = 'embedded-components';

  constructor(
    private readonly http: GatewayHttpClient,
    private readonly now: () => number = Date.now,
  ) {}

  async createSession(input: CreateSessionInput<EmbeddedScope, EmbeddedConfig>): Promise<GatewaySession> {
    if (!input.scope) throw new Error('embedded-components session without scope');
    const api = reportingApiOf(input.scope);
    const apiKey = input.credentials[API_KEY_FIELD[api]];
    if (!apiKey) throw new Error('credentials incomplete');

    const res = await this.http.send({
      method: 'POST',
      url: gatewayUrl(input.terminal.endpointUrl),
      headers: { authorization: apiKey, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ [api]: true }),
      signal: input.signal,
    });
    if (res.status !== 200 && res.status !== 201) {
      const kind =
        res.status === 401
          ? REJECTIONS.merchantAuth
          : res.status === 403
            ? REJECTIONS.terminalNotEnabled
            : res.status === 429
              ? REJECTIONS.rateLimited
              : REJECTIONS.general;
      // The Reporting API's own type/message stay out of the answer.
      throw gatewayRejected(kind, String(res.status), `The Reporting API refused the session request (HTTP ${res.status}).`);
    }
    const parsed = componentSessionSchema.safeParse(jsonObject(res.text));
    if (!parsed.success) throw new GatewayProtocolError('The Reporting API answered without a valid session token.');
    const s = parsed.data;
    const expiresIn = s.expires_in ?? (s.expires_at !== undefined ? Math.floor((Date.parse(s.expires_at) - this.now()) / 1000) : DEFAULT_SESSION_SECONDS);
    if (expiresIn <= 0) throw new GatewayProtocolError('The Reporting API answered with an expired session token.');
    // The component authenticates every data request with the same token until it expires.
    return { sessionId: s.session_token, expiresIn, reusable: true, gatewayReference: undefined, resultCode: String(res.status) };
  }
}
