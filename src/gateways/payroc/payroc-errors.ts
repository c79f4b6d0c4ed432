import type { GatewayRejectedError } from '../../common/errors';
import { jsonObject } from '../../common/outbound-http';
import { gatewayRejected, REJECTIONS, type RejectionKind } from '../gateway-rejections';

/** Error types Payroc documents (docs.payroc.com/api/errors); only these are named back to the device. */
const DOCUMENTED_TYPES = new Set([
  'api-error',
  'bad-request',
  'cannot-be-modified',
  'capabilities-missing',
  'card-type-not-supported',
  'contract-already-signed',
  'unauthorized',
  'forbidden',
  'not-found',
  'conflict',
  'too-many-requests',
]);

/** The fragment of an RFC 7807 `type` such as https://docs.payroc.com/api/errors#bad-request. */
function documentedType(body: string): string | undefined {
  const type = jsonObject(body)?.type;
  if (typeof type !== 'string') return undefined;
  const fragment = type.slice(type.lastIndexOf('#') + 1);
  return DOCUMENTED_TYPES.has(fragment) ? fragment : undefined;
}

function kindOf(status: number, type: string | undefined, step: 'identity' | 'session'): RejectionKind {
  if (status === 401) return REJECTIONS.merchantAuth;
  if (status === 403) return step === 'identity' ? REJECTIONS.merchantAuth : REJECTIONS.terminalNotEnabled;
  if (status === 429) return REJECTIONS.rateLimited;
  if (step === 'session' && (status === 404 || type === 'capabilities-missing')) return REJECTIONS.terminalNotEnabled;
  return REJECTIONS.general;
}

/**
 * A Payroc RFC 7807 error as ours. Payroc's title, detail and errors[] messages stay out: only
 * the HTTP status (the audit's gateway result) and a documented type name reach the device.
 */
export function payrocError(status: number, body: string, step: 'identity' | 'session'): GatewayRejectedError {
  const type = documentedType(body);
  const what = step === 'identity' ? 'The Payroc Identity Service refused the API key' : 'The Payroc gateway refused the session request';
  return gatewayRejected(kindOf(status, type, step), String(status), `${what} (HTTP ${status}${type ? `, ${type}` : ''}).`);
}
