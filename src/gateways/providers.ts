import { embeddedComponentsProvider } from './embedded-components/embedded-components.provider-spec';
import type { AnyProviderSpec } from './gateway-provider';
import { hypProvider } from './hyp/hyp.provider-spec';
import { payrocProvider } from './payroc/payroc.provider-spec';
import { walletProvider } from './wallet/wallet.provider-spec';

/**
 * Every provider the broker can issue sessions for, one registration line each. A new provider is
 * one new folder (its spec: scope, provider_config and policy schemas, policy check, gateway) and
 * one line here; the device-policy schema, the registry and the issuer pick it up from this list.
 */
export const PROVIDERS: readonly AnyProviderSpec[] = [
  hypProvider,
  payrocProvider,
  embeddedComponentsProvider,
  walletProvider,
];
