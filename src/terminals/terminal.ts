import type { ScopePolicy } from '../policy/scope-policy';

/** A terminal number, as the gateways define it: ten digits. */
export const TERMINAL_NUMBER = /^\d{10}$/;

/** A merchant terminal as the issuance path needs it; its credentials stay in the secret store. */
export interface Terminal {
  readonly id: string;
  readonly terminalNumber: string;
  readonly label: string;
  readonly provider: string;
  readonly endpointUrl: string;
  /** Path of the terminal's credentials in the secret store. */
  readonly credentialRef: string;
  readonly enabled: boolean;
  /** The scope policy of a bound device that has none of its own. */
  readonly defaultPolicy: ScopePolicy;
  /**
   * terminal.provider_config: the provider's own non-secret fields, checked by its schema when
   * written (src/terminals/provider-config.ts). Cached with the rest of the terminal, so one
   * invalidation covers both.
   */
  readonly providerConfig: unknown;
}
