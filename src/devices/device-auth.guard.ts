import { ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { AuthenticationError, DependencyUnavailableError } from '../common/errors';
import { reasonOf } from '../common/jwt-refusal';
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

  override handleRequest<T>(err: Error | null, user: T, info: unknown): T {
    if (err) throw err;
    // A key lookup that failed because a dependency is down is not the caller's fault: 503.
    if (info instanceof DependencyUnavailableError) throw info;
    if (!user) throw new AuthenticationError(reasonOf(info));
    return user;
  }
}
