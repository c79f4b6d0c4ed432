import { z } from 'zod';
import { hypPolicyFields, hypScopeSchema, scopeRuleSchema, type HypScope } from '../gateways/hyp/hyp-scope.schema';
import { PROVIDERS } from '../gateways/providers';

export { hypScopeSchema, scopeRuleSchema, type HypScope };

/** Policy parts are plain JSON (they are stored in JSONB columns). */
type PolicyJson = string | number | boolean | null | PolicyJson[] | { [key: string]: PolicyJson };

/**
 * `policy.providers`: one optional part per provider that has a policy schema, keyed by provider
 * name (`payroc`, `embedded-components`, `wallet`), each validated by that provider's schema.
 * A provider without a part is denied to the device.
 */
const providerPoliciesSchema = z.strictObject(
  Object.fromEntries(PROVIDERS.flatMap((p) => (p.policySchema ? [[p.name, p.policySchema.optional()]] : []))) as Record<
    string,
    z.ZodOptional<z.ZodType<{ [key: string]: PolicyJson }, unknown>>
  >,
);

/**
 * A device's scope policy. The top level is Hyp's (unchanged: `allowUnscoped`, `allowed`);
 * `providers` holds the other providers' parts, e.g.
 * `{"payroc": {"libVersions": ["1.6.0.172441"]}, "embedded-components": {"gateway": true},
 *   "wallet": {"walletIds": ["2sdflsd"]}}`.
 */
export const scopePolicySchema = z.strictObject({
  ...hypPolicyFields,
  providers: providerPoliciesSchema.optional(),
});

export type ScopePolicy = z.infer<typeof scopePolicySchema>;
