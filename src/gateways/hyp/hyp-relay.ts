import { GatewayProtocolError } from '../../common/errors';
import { GatewayHttpClient, gatewayUrl, type GatewayHttpClientOptions } from '../gateway-http.client';

export type HypGatewayClientOptions = GatewayHttpClientOptions;

/**
 * Hyp's form POST over the shared gateway HTTP client (pools, timeouts, size cap, error mapping).
 * The form carries the merchant password, so no detail quotes anything from it.
 */
export class HypGatewayClient extends GatewayHttpClient {
  postForm(endpointUrl: string, form: Record<string, string>, signal: AbortSignal): Promise<string> {
    return postHypForm(this, endpointUrl, form, signal);
  }
}

/** Hyp's Relay call on any gateway HTTP client (the broker shares one between all providers). */
export async function postHypForm(
  http: GatewayHttpClient,
  endpointUrl: string,
  form: Record<string, string>,
  signal: AbortSignal,
): Promise<string> {
  const res = await http.send({
    method: 'POST',
    url: gatewayUrl(endpointUrl),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/xml, text/xml' },
    body: new URLSearchParams(form).toString(),
    signal,
  });
  if (res.status < 200 || res.status > 299) throw new GatewayProtocolError(`The gateway answered HTTP ${res.status}.`);
  return res.text;
}
