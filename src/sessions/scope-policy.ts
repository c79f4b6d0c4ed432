import type { RegisteredProvider } from '../gateways/gateway-registry';
import type { ScopePolicy } from './hyp-scope.schema';

export { scopeFitsPolicy } from '../gateways/hyp/hyp-scope.schema';

/**
 * The device policy's part for a provider: Hyp's is the policy's top level, every other
 * provider's is under `providers[name]` (undefined when the device has none: deny).
 */
export function policyPart(policy: ScopePolicy, provider: RegisteredProvider): unknown {
  if (!provider.spec.policySchema) return policy;
  return policy.providers?.[provider.spec.name];
}
