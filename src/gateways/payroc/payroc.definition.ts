import type { ProviderDefinition } from '../gateway-provider';
import { PayrocGatewayProvider } from './payroc-gateway.provider';
import { payrocConfigSchema, payrocPolicySchema, payrocScopeSchema, type PayrocConfig, type PayrocPolicy, type PayrocScope } from './payroc.schemas';

export const payrocProvider: ProviderDefinition<PayrocScope, PayrocConfig, PayrocPolicy> = {
  name: 'payroc',
  scopeSchema: payrocScopeSchema.optional().superRefine((scope, ctx) => {
    if (scope === undefined) ctx.addIssue({ code: 'custom', message: 'is required: {"libVersion": "<Hosted Fields version>"}' });
  }),
  configSchema: payrocConfigSchema,
  policySchema: payrocPolicySchema,
  permits: (policy, scope) =>
    policy !== undefined && scope !== undefined && policy.libVersions.includes(scope.libVersion) && policy.scenarios.includes(scope.scenario),
  create: ({ http, config }) =>
    new PayrocGatewayProvider(http, {
      tokenRefreshMarginMs: config.PAYROC_TOKEN_REFRESH_MARGIN_SECONDS * 1000,
      identityTimeoutMs: config.REQUEST_DEADLINE_MS,
    }),
};
