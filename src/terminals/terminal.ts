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

/**
 * A terminal as the admin API shows it: its credential reference is a path, never a credential;
 * its provider configuration holds the provider's non-secret fields only (provider-config.ts).
 */
export interface TerminalRecord extends Terminal {
  readonly providerConfig: Record<string, unknown>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The columns of a new terminal (admin create, seeding); what is left out takes the table's default. */
export type TerminalInput = Omit<Terminal, 'id' | 'enabled' | 'defaultPolicy' | 'providerConfig'> &
  Partial<Pick<Terminal, 'enabled' | 'defaultPolicy' | 'providerConfig'>>;

/** The columns an update sets; what is left out stays as it is. */
export type TerminalChanges = Partial<Omit<Terminal, 'id' | 'terminalNumber'>>;

/** Which terminals a list holds (each filter left out matches all), and which page of them. */
export interface TerminalQuery {
  readonly enabled?: boolean;
  readonly provider?: string;
  /** Part of the label, any case. */
  readonly label?: string;
  readonly limit: number;
  readonly offset: number;
}
