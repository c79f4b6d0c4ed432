import { z } from 'zod';
import { HYP_SCOPE_COMMANDS, HYP_TRANSACTION_TYPES, HYP_VALIDATIONS, canonicalize } from '../gateways/hyp/hyp-scope';

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

export const scopePolicySchema = z.strictObject({
  allowUnscoped: z.boolean().default(false),
  allowed: z.array(scopeRuleSchema).max(100).default([]),
});

export type ScopePolicy = z.infer<typeof scopePolicySchema>;
