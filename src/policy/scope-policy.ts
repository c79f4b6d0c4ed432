import { z } from 'zod';
import type { RegisteredProvider } from '../gateways/gateway-registry';
import { hypPolicyFields } from '../gateways/hyp/hyp-scope.schema';
import { PROVIDERS } from '../gateways/providers';

/**
 * The scope policy of a device (or a terminal's default): which sessions it may ask for, per
 * provider. Each provider's own rule (which scopes its policy part permits) lives with the
 * provider (src/gateways/<provider>/); this file assembles them into the one policy shape.
 */

/**
 * `policy.providers`: one optional part per provider that has a policy schema, keyed by provider
 * name (`payroc`, `embedded-components`, `wallet`), each validated by that provider's schema.
 * A provider without a part is denied to the device.
 */
const providerPoliciesSchema = z.strictObject(Object.fromEntries(PROVIDERS.flatMap((p) => (p.policySchema ? [[p.name, p.policySchema.optional()]] : []))));

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

/**
 * The device policy's part for a provider: Hyp's is the policy's top level, every other
 * provider's is under `providers[name]` (undefined when the device has none: deny).
 */
export function policyPart(policy: ScopePolicy, provider: RegisteredProvider): unknown {
  if (!provider.spec.policySchema) return policy;
  return policy.providers?.[provider.spec.name];
}
