import { GatewayProtocolError } from '../../common/errors';
import { gatewayUrl, type GatewayHttpClient } from '../gateway-http.client';

/**
 * Hyp's Relay call (a form POST) on the gateway HTTP client the broker shares between all providers.
 * The form carries the merchant password, so no detail quotes anything from it.
 */
export async function postHypForm(http: GatewayHttpClient, endpointUrl: string, form: Record<string, string>, signal: AbortSignal): Promise<string> {
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
