import { z } from 'zod';
import type { ProviderDefinition } from '../gateway-provider';
import { HypGatewayProvider } from './hyp-gateway.provider';
import { hypScopeSchema, scopeFitsPolicy, type HypPolicy, type HypScope } from './hyp-scope.schema';

/** Hyp needs nothing beyond the terminal number and endpoint: its provider_config is empty. */
const hypConfigSchema = z.preprocess((v) => v ?? {}, z.strictObject({}));

export const hypProvider: ProviderDefinition<HypScope, Record<string, never>, HypPolicy> = {
  name: 'hyp',
  // No scope, or one without a command, asks for an unscoped session.
  scopeSchema: hypScopeSchema.optional().transform((s) => (s?.command === undefined ? undefined : s)),
  configSchema: hypConfigSchema,
  permits: (policy, scope) => policy !== undefined && scopeFitsPolicy(policy, scope),
  create: ({ http }) => new HypGatewayProvider(http),
};
