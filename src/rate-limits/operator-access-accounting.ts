import { ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuditTrail } from '../audit/audit-trail';
import { auditOrigin } from '../http/audit-origin';
import type { OperatorPrincipal, OperatorRole } from '../operators/operator';
import type { OperatorAccessChecks } from '../operators/operator-access-checks';
import { AuthRefusals } from './auth-refusals';
import { OperatorRateLimitGuard } from './rate-limit-guards';

/**
 * OperatorAuthGuard's checks (OPERATOR_ACCESS_CHECKS). They live here, not in operators/, because
 * this folder stands above both operators/ and audit/ and already holds the refusal accounting
 * and the limits they compose; the global RateLimitsModule provides them to every operator route.
 */
@Injectable()
export class OperatorAccessAccounting implements OperatorAccessChecks {
  constructor(
    private readonly refusals: AuthRefusals,
    private readonly operatorLimit: OperatorRateLimitGuard,
    private readonly audit: AuditTrail,
  ) {}

  beforeAuthentication(req: FastifyRequest): Promise<void> {
    return this.refusals.checkBefore(req, 'operator');
  }

  authenticationRefused(req: FastifyRequest, reason: string, claimedSubject: string | undefined): Promise<void> {
    return this.refusals.refused(req, { actorType: 'operator', reason, actorId: claimedSubject });
  }

  async authenticated(context: ExecutionContext): Promise<void> {
    await this.operatorLimit.canActivate(context);
  }

  forbidden(req: FastifyRequest, operator: OperatorPrincipal, reason: string, required: readonly OperatorRole[]): Promise<void> {
    return this.audit.record({
      action: 'auth.forbidden',
      outcome: 'denied',
      reason,
      actorType: 'operator',
      actorId: operator.subject,
      ...auditOrigin(req),
      details: { route: req.routeOptions.url, method: req.method, required, held: [...operator.roles] },
    });
  }
}
