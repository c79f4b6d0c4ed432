import { GatewayProtocolError, GatewayRejectedError } from '../../common/errors';
import type { CreateSessionInput, GatewayProvider, GatewaySession } from '../gateway-provider';
import type { GatewayHttpClient } from '../gateway-http.client';
import { postHypForm } from './hyp-relay';
import { HYP_SUCCESS, mapHypResult } from './hyp-result-codes';
import { buildGetSessionIdRequest, parseHypResponse } from './hyp-xml';

/** Hyp's requestId column is 20 characters wide. */
const MAX_REQUEST_ID_LENGTH = 20;

/**
 * Hyp getSessionId. One attempt per call: whether and when to retry is the caller's decision,
 * because only the caller knows the remaining deadline.
 */
export class HypGatewayProvider implements GatewayProvider {
  readonly name = 'hyp';

  constructor(private readonly http: GatewayHttpClient) {}

  async createSession(input: CreateSessionInput): Promise<GatewaySession> {
    if (input.requestId.length > MAX_REQUEST_ID_LENGTH) {
      throw new Error(`requestId longer than ${MAX_REQUEST_ID_LENGTH} characters`);
    }
    const { username, password } = input.credentials;
    if (!username || !password) throw new Error('credentials incomplete');

    const xml = buildGetSessionIdRequest({
      terminalNumber: input.terminal.terminalNumber,
      requestId: input.requestId,
      scope: input.scope,
    });
    const body = await postHypForm(this.http, input.terminal.endpointUrl, { user: username, password, int_in: xml }, input.signal);
    const response = parseHypResponse(body);

    // parseHypResponse guarantees a three-digit result.
    const result = response.result as string;
    if (result !== HYP_SUCCESS) throw new GatewayRejectedError(result, mapHypResult(result));

    if (response.command !== undefined && response.command !== 'getSessionId') {
      throw new GatewayProtocolError('The gateway answered a different command.');
    }
    if (response.sessionId === undefined) throw new GatewayProtocolError('The gateway reported success without a session.');
    if (response.sessionExpiration === undefined || !/^\d{1,9}$/.test(response.sessionExpiration)) {
      throw new GatewayProtocolError('The gateway reported success without a valid session lifetime.');
    }
    return {
      sessionId: response.sessionId,
      expiresIn: Number(response.sessionExpiration),
      reusable: response.sessionReUse === '1',
      gatewayReference: response.tranId,
      resultCode: HYP_SUCCESS,
    };
  }
}
