import { ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { AuthenticationError, DependencyUnavailableError, ForbiddenError } from '../common/errors';
import { reasonOf } from '../common/jwt-refusal';
import type { OperatorPrincipal, OperatorRole } from './operator';
import { OPERATOR_ACCESS_CHECKS, type OperatorAccessChecks } from './operator-access-checks';
import { OPERATOR_JWT, claimedOperator } from './operator-jwt.strategy';
import { REQUIRED_ROLES } from './require-roles.decorator';

/**
 * Authenticates operators (bearer JWT from the identity provider) and enforces @RequireRoles:
 * 401 when the token is missing or refused, 403 when the operator has none of the route's roles
 * (or the route declares none). Both refusals leave an audit event (401s aggregated per address
 * and reason under a flood by AuthRefusals, through OperatorAccessChecks); the caller only learns the status.
 *
 * Limits: an address with too many refused authentications is answered 429 before its token is
 * read; once authenticated, the operator limit counts per operator subject (each operator has
 * their own budget, whatever address or path spelling they use).
 */
@Injectable()
export class OperatorAuthGuard extends AuthGuard(OPERATOR_JWT) {
  constructor(
    private readonly reflector: Reflector,
    @Inject(OPERATOR_ACCESS_CHECKS) private readonly checks: OperatorAccessChecks,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<FastifyRequest & { user?: OperatorPrincipal }>();
    await this.checks.beforeAuthentication(req);
    try {
      await super.canActivate(context);
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      await this.checks.authenticationRefused(req, err.reason, claimedOperator(req));
      throw err;
    }
    const operator = req.user as OperatorPrincipal;
    await this.checks.authenticated(context);
    const required = this.reflector.getAllAndOverride<OperatorRole[] | undefined>(REQUIRED_ROLES, [context.getHandler(), context.getClass()]) ?? [];
    if (!required.some((role) => operator.roles.has(role))) {
      const reason = required.length === 0 ? 'route-declares-no-roles' : 'missing-role';
      await this.checks.forbidden(req, operator, reason, required);
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
}
