import { embeddedComponentsProvider } from './embedded-components/embedded-components.definition';
import type { AnyProviderDefinition } from './gateway-provider';
import { hypProvider } from './hyp/hyp.definition';
import { payrocProvider } from './payroc/payroc.definition';
import { walletProvider } from './wallet/wallet.definition';

/**
 * Every provider the broker can issue sessions for, one registration line each. A new provider is
 * one new folder (its definition: scope, provider_config and policy schemas, policy check, gateway) and
 * one line here; the device-policy schema, the registry and the issuer pick it up from this list.
 */
export const PROVIDERS: readonly AnyProviderDefinition[] = [hypProvider, payrocProvider, embeddedComponentsProvider, walletProvider];
