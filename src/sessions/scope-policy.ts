import type { HypScope, ScopePolicy } from './hyp-scope.schema';

/**
 * Does the requested scope fit the policy? A rule's absent part is a wildcard; a part the rule
 * pins must be asked for with that exact value, because asking for less restriction (no
 * validation, say) would be a broader session than the rule grants. A request with no scope at
 * all is the broadest session and needs `allowUnscoped`.
 */
export function scopeFitsPolicy(policy: ScopePolicy, scope: HypScope | undefined): boolean {
  if (scope === undefined || scope.command === undefined) return policy.allowUnscoped;
  return policy.allowed.some(
    (rule) =>
      rule.command === scope.command &&
      (rule.validation === undefined || rule.validation === scope.validation) &&
      (rule.transactionType === undefined || rule.transactionType === scope.transactionType),
  );
}
