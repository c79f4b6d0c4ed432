import { GatewayHttpClient, type GatewayHttpClientOptions } from '../../src/gateways/gateway-http.client';
import { postHypForm } from '../../src/gateways/hyp/hyp-relay';

export type HypGatewayClientOptions = GatewayHttpClientOptions;

/** A gateway HTTP client of its own for Hyp's form POST: the specs test the transport in isolation with it. */
export class HypGatewayClient extends GatewayHttpClient {
  postForm(endpointUrl: string, form: Record<string, string>, signal: AbortSignal): Promise<string> {
    return postHypForm(this, endpointUrl, form, signal);
  }
}
