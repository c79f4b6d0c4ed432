import { ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { TokenExpiredError, NotBeforeError, JsonWebTokenError } from 'jsonwebtoken';
import { AuthenticationError, DependencyUnavailableError } from '../common/errors';
import { AuthRefusals } from '../rate-limits/auth-refusals';
import { DEVICE_JWT, claimedDevice } from './device-jwt.strategy';

/**
 * Authenticates POS devices. Every refusal is audited with the precise reason (aggregated per
 * address and reason under a flood, see AuthRefusals), while the caller only ever learns "401";
 * an address with too many refusals is answered 429 before its token is looked at.
 */
@Injectable()
export class DeviceAuthGuard extends AuthGuard(DEVICE_JWT) {
  constructor(private readonly refusals: AuthRefusals) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    await this.refusals.checkBefore(req, 'device');
    try {
      return (await super.canActivate(context)) as boolean;
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      await this.refusals.refused(req, { actorType: 'device', reason: err.reason, actorId: claimedDevice(req) });
      throw err;
    }
  }

  override handleRequest<T>(err: unknown, user: T, info: unknown): T {
    if (err) throw err;
    // A key lookup that failed because a dependency is down is not the caller's fault: 503.
    if (info instanceof DependencyUnavailableError) throw info;
    if (!user) throw new AuthenticationError(reasonOf(info));
    return user;
  }
}

/** Why passport-jwt refused a token, for the audit trail (operator tokens are refused the same way). */
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
