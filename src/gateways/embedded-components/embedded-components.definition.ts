import type { ProviderDefinition } from '../gateway-provider';
import { EmbeddedComponentsProvider } from './embedded-components.provider';
import {
  embeddedConfigSchema,
  embeddedPolicySchema,
  embeddedScopeSchema,
  reportingApiOf,
  type EmbeddedConfig,
  type EmbeddedPolicy,
  type EmbeddedScope,
} from './embedded-components.schemas';

export const embeddedComponentsProvider: ProviderDefinition<EmbeddedScope, EmbeddedConfig, EmbeddedPolicy> = {
  name: 'embedded-components',
  scopeSchema: embeddedScopeSchema,
  configSchema: embeddedConfigSchema,
  policySchema: embeddedPolicySchema,
  permits: (policy, scope) => policy !== undefined && scope !== undefined && policy[reportingApiOf(scope)] === true,
  offers: (config, scope) => scope !== undefined && config.apis.includes(reportingApiOf(scope)),
  create: ({ http }) => new EmbeddedComponentsProvider(http),
};
