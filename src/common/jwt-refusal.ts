import { JsonWebTokenError, NotBeforeError, TokenExpiredError } from 'jsonwebtoken';
import { AuthenticationError } from './errors';

/** Why passport-jwt refused an operator's token, for the audit trail: the caller only learns 401. */
export function reasonOf(info: unknown): string {
  if (info instanceof AuthenticationError) return info.reason;
  if (info instanceof TokenExpiredError) return 'token-expired';
  if (info instanceof NotBeforeError) return 'token-not-yet-valid';
  if (info instanceof JsonWebTokenError) {
    const m = info.message;
    if (m.includes('audience')) return 'wrong-audience';
    if (m.includes('issuer')) return 'wrong-issuer';
    if (m.includes('algorithm')) return 'algorithm-refused';
    if (m.includes('signature is required')) return 'unsigned-token';
    if (m.includes('signature')) return 'bad-signature';
    if (m.includes('maxAge')) return 'token-too-old';
    return 'malformed-token';
  }
  if (info instanceof Error && info.message === 'No auth token') return 'no-token';
  return 'malformed-token';
}
