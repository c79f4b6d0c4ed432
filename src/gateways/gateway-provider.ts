import type { z } from 'zod';
import type { Config } from '../config/config.schema';
import type { GatewayHttpClient } from './gateway-http.client';

/**
 * What every payment gateway behind POST /v1/sessions offers: turn merchant credentials plus a
 * requested scope into a session (and, where the gateway's sessions stay open until closed, close
 * one). Providers throw GatewayError subclasses (src/common/errors.ts) and nothing else.
 */
export interface GatewayTerminal<C = unknown> {
  /** The broker's terminal number (10 digits; Hyp's own terminal identifier). */
  readonly terminalNumber: string;
  /** Absolute URL of the gateway endpoint for this terminal (Hyp: the .../xpo/Relay URL). */
  readonly endpointUrl: string;
  /** The terminal's provider_config, validated by the provider's configSchema. Never secret. */
  readonly config?: C;
}

/** Hyp scope, already validated and in the documented spelling. All parts optional. */
export interface SessionScope {
  readonly command?: string;
  readonly validation?: string;
  readonly transactionType?: string;
}

/** Credential fields read from the secret store (Hyp: username, password). Never logged. */
export type GatewayCredentials = Readonly<Record<string, string>>;

export interface CreateSessionInput<S = SessionScope, C = unknown> {
  readonly terminal: GatewayTerminal<C>;
  readonly credentials: GatewayCredentials;
  readonly scope: S | undefined;
  /** The broker's request id (≤ 20 chars), sent to the gateway so both logs can be joined. */
  readonly requestId: string;
  /**
   * One UUID v4 per device request, the same on every retry of it: sent where the gateway
   * deduplicates (Payroc's Idempotency-Key), so a retried call cannot mint a second session.
   */
  readonly idempotencyKey?: string;
  /** Aborts the outbound call when the request's total deadline is reached. */
  readonly signal: AbortSignal;
}

export interface GatewaySession {
  readonly sessionId: string;
  /** Lifetime in seconds as stated by the gateway; null: open until closed. */
  readonly expiresIn: number | null;
  readonly reusable: boolean;
  /** Gateway's own reference for the issuance (Hyp: tranId). */
  readonly gatewayReference: string | undefined;
  /** Gateway result code (Hyp: "000"; JSON gateways: the HTTP status). At most 16 characters. */
  readonly resultCode: string;
}

export interface CloseSessionInput<C = unknown> {
  readonly terminal: GatewayTerminal<C>;
  readonly credentials: GatewayCredentials;
  readonly sessionId: string;
  readonly requestId: string;
  readonly signal: AbortSignal;
}

export interface GatewayProvider<S = SessionScope, C = unknown> {
  /** Identifier stored on terminals (`hyp`, `payroc`, ...). */
  readonly name: string;
  createSession(input: CreateSessionInput<S, C>): Promise<GatewaySession>;
  /**
   * Only gateways whose sessions stay open until closed offer this. Closing a session that is
   * already closed resolves (closing twice is not an error).
   */
  closeSession?(input: CloseSessionInput<C>): Promise<void>;
}

/** What a provider may use to build its client: the shared HTTP client and the settings. */
export interface ProviderDeps {
  readonly http: GatewayHttpClient;
  readonly config: Config;
}

/**
 * A provider as the broker registers it (src/gateways/providers.ts): everything checked before
 * any outbound call (scope, terminal configuration, device policy) and a factory for the gateway.
 */
export interface ProviderDefinition<S extends object, C, P> {
  /** The `terminal.provider` value (≤ 32 characters). */
  readonly name: string;
  /** The device's `scope` for this provider; receives undefined when the device sent none. */
  readonly scopeSchema: z.ZodType<S | undefined, unknown>;
  /** The terminal's `provider_config` (non-secret fields only). */
  readonly configSchema: z.ZodType<C, unknown>;
  /**
   * This provider's part of a device policy, at `policy.providers[name]`. Hyp has none: its
   * policy is the policy's top level (`allowUnscoped`, `allowed`), for compatibility.
   */
  readonly policySchema?: z.ZodType<P, unknown>;
  /** Does the scope fit the device's policy part? An absent part (undefined) must deny. */
  permits(policy: P | undefined, scope: S | undefined): boolean;
  /** Does the terminal's configuration offer this scope (e.g. this wallet)? Default: yes. */
  offers?(config: C, scope: S | undefined): boolean;
  create(deps: ProviderDeps): GatewayProvider<S, C>;
}

// The registry stores specs of different scope/config/policy types side by side.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProviderDefinition = ProviderDefinition<any, any, any>;
