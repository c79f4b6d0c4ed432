import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { AuditTrail } from '../audit/audit-trail';
import { AuthenticationError, DependencyUnavailableError, ForbiddenError } from '../common/errors';
import { reasonOf } from '../common/jwt-refusal';
import { auditOrigin } from '../http/audit-origin';
import { AuthRefusals } from '../rate-limits/auth-refusals';
import { OperatorRateLimitGuard } from '../rate-limits/rate-limit-guards';
import type { OperatorPrincipal, OperatorRole } from './operator';
import { OPERATOR_JWT, claimedOperator } from './operator-jwt.strategy';
import { REQUIRED_ROLES } from './require-roles.decorator';

/**
 * Authenticates operators (bearer JWT from the identity provider) and enforces @RequireRoles:
 * 401 when the token is missing or refused, 403 when the operator has none of the route's roles
 * (or the route declares none). Both refusals leave an audit event (401s aggregated per address
 * and reason under a flood, see AuthRefusals); the caller only learns the status.
 *
 * Limits: an address with too many refused authentications is answered 429 before its token is
 * read; once authenticated, the operator limit counts per operator subject (each operator has
 * their own budget, whatever address or path spelling they use).
 */
@Injectable()
export class OperatorAuthGuard extends AuthGuard(OPERATOR_JWT) {
  constructor(
    private readonly audit: AuditTrail,
    private readonly reflector: Reflector,
    private readonly refusals: AuthRefusals,
    private readonly operatorLimit: OperatorRateLimitGuard,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<FastifyRequest & { user?: OperatorPrincipal }>();
    await this.refusals.checkBefore(req, 'operator');
    try {
      await super.canActivate(context);
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      await this.refusals.refused(req, { actorType: 'operator', reason: err.reason, actorId: claimedOperator(req) });
      throw err;
    }
    const operator = req.user as OperatorPrincipal;
    await this.operatorLimit.canActivate(context);
    const required = this.reflector.getAllAndOverride<OperatorRole[] | undefined>(REQUIRED_ROLES, [context.getHandler(), context.getClass()]) ?? [];
    if (!required.some((role) => operator.roles.has(role))) {
      const reason = required.length === 0 ? 'route-declares-no-roles' : 'missing-role';
      await this.forbid(req, reason, operator.subject, { required, held: [...operator.roles] });
      throw new ForbiddenError('Your roles do not allow this operation.', reason);
    }
    return true;
  }

  override handleRequest<T>(err: Error | null, user: T, info: unknown): T {
    if (err) throw err;
    // The identity provider's keys could not be fetched: not the caller's fault, 503.
    if (info instanceof DependencyUnavailableError) throw info;
    if (!user) throw new AuthenticationError(reasonOf(info));
    return user;
  }

  private forbid(req: FastifyRequest, reason: string, actorId: string, extra: object): Promise<void> {
    return this.audit.record({
      action: 'auth.forbidden',
      outcome: 'denied',
      reason,
      actorType: 'operator',
      actorId,
      ...auditOrigin(req),
      details: { route: req.routeOptions.url, method: req.method, ...extra },
    });
  }
}
