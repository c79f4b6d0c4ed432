import type { ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { OperatorPrincipal, OperatorRole } from './operator';

/**
 * What OperatorAuthGuard needs besides the token: the refusal accounting around authentication,
 * the per-operator limit and the audit of a refused role. Declared here and provided from above
 * (src/rate-limits/operator-access-accounting.ts), so that operators/ imports nothing above it
 * and the auditor API (audit/query/) can use the guard without an import running back up.
 */
export interface OperatorAccessChecks {
  /** Before the token is read: throws RateLimitedError (429) when the address is over its refusal limit. */
  beforeAuthentication(req: FastifyRequest): Promise<void>;
  /** A refused token, counted against the address and audited; `claimedSubject` is unverified. */
  authenticationRefused(req: FastifyRequest, reason: string, claimedSubject: string | undefined): Promise<void>;
  /** Once authenticated: throws RateLimitedError (429) over the operator's own limit. */
  authenticated(context: ExecutionContext): Promise<void>;
  /** A 403: records the auth.forbidden event with the roles the route requires and those held. */
  forbidden(req: FastifyRequest, operator: OperatorPrincipal, reason: string, required: readonly OperatorRole[]): Promise<void>;
}

/** Injection token of the OperatorAccessChecks that OperatorAuthGuard uses. */
export const OPERATOR_ACCESS_CHECKS = Symbol('OperatorAccessChecks');
