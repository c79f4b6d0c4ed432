import { z } from 'zod';
import { HYP_SCOPE_COMMANDS, HYP_TRANSACTION_TYPES, HYP_VALIDATIONS, canonicalize } from './hyp-scope';

/** A documented value, matched case-insensitively and returned in the documented spelling. */
const documented = (list: readonly string[], what: string) =>
  z.string().transform((value, ctx) => {
    const canonical = canonicalize(list, value);
    if (canonical === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a documented ${what} (${list.join(', ')})` });
      return z.NEVER;
    }
    return canonical;
  });

/** Hyp session scope as a device asks for it (`command` becomes the gateway's `scopeCmd`). */
export const hypScopeSchema = z
  .strictObject({
    command: documented(HYP_SCOPE_COMMANDS, 'command').optional(),
    validation: documented(HYP_VALIDATIONS, 'validation').optional(),
    transactionType: documented(HYP_TRANSACTION_TYPES, 'transactionType').optional(),
  })
  .superRefine((scope, ctx) => {
    if (scope.command === undefined && (scope.validation !== undefined || scope.transactionType !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'is required when validation or transactionType is given' });
    }
  });

export type HypScope = z.infer<typeof hypScopeSchema>;

/** A rule pins a command and optionally a validation and a transaction type. */
export const scopeRuleSchema = z.strictObject({
  command: documented(HYP_SCOPE_COMMANDS, 'command'),
  validation: documented(HYP_VALIDATIONS, 'validation').optional(),
  transactionType: documented(HYP_TRANSACTION_TYPES, 'transactionType').optional(),
});

/** The Hyp part of a device policy: the policy's top level, as it was before other providers. */
export const hypPolicyFields = {
  allowUnscoped: z.boolean().default(false),
  allowed: z.array(scopeRuleSchema).max(100).default([]),
};

export interface HypPolicy {
  readonly allowUnscoped: boolean;
  readonly allowed: ReadonlyArray<z.infer<typeof scopeRuleSchema>>;
}

/**
 * Does the requested scope fit the policy? A rule's absent part is a wildcard; a part the rule
 * pins must be asked for with that exact value, because asking for less restriction (no
 * validation, say) would be a broader session than the rule grants. A request with no scope at
 * all is the broadest session and needs `allowUnscoped`.
 */
export function scopeFitsPolicy(policy: HypPolicy, scope: HypScope | undefined): boolean {
  if (scope === undefined || scope.command === undefined) return policy.allowUnscoped;
  return policy.allowed.some(
    (rule) =>
      rule.command === scope.command &&
      (rule.validation === undefined || rule.validation === scope.validation) &&
      (rule.transactionType === undefined || rule.transactionType === scope.transactionType),
  );
}
