export type OperatorRole = 'admin' | 'auditor';

export const OPERATOR_ROLES: readonly OperatorRole[] = ['admin', 'auditor'];

/** The authenticated caller of an operator route (admin API, auditor API). */
export interface OperatorPrincipal {
  /** The identity provider's `sub`: recorded as actorId of every audit event the operator causes. */
  readonly subject: string;
  readonly roles: ReadonlySet<OperatorRole>;
}
