import type { ProviderDefinition } from '../gateway-provider';
import { WalletProvider } from './wallet.provider';
import { walletConfigSchema, walletPolicySchema, walletScopeSchema, type WalletConfig, type WalletPolicy, type WalletScope } from './wallet.schemas';

export const walletProvider: ProviderDefinition<WalletScope, WalletConfig, WalletPolicy> = {
  name: 'wallet',
  scopeSchema: walletScopeSchema,
  configSchema: walletConfigSchema,
  policySchema: walletPolicySchema,
  permits: (policy, scope) => policy !== undefined && scope !== undefined && policy.walletIds.includes(scope.walletId),
  offers: (config, scope) => scope !== undefined && config.walletIds.includes(scope.walletId),
  create: ({ http }) => new WalletProvider(http),
};
