/**
 * What every payment gateway behind POST /v1/sessions offers: turn merchant credentials plus a
 * requested scope into a short-lived session. Providers throw GatewayError subclasses
 * (src/common/errors.ts) and nothing else.
 */
export interface GatewayTerminal {
  /** Gateway terminal identifier (Hyp: 10 digits). */
  readonly terminalNumber: string;
  /** Absolute URL of the gateway endpoint for this terminal (Hyp: the .../xpo/Relay URL). */
  readonly endpointUrl: string;
}

/** Hyp scope, already validated and in the documented spelling. All parts optional. */
export interface SessionScope {
  readonly command?: string;
  readonly validation?: string;
  readonly transactionType?: string;
}

/** Credential fields read from the secret store (Hyp: username, password). Never logged. */
export type GatewayCredentials = Readonly<Record<string, string>>;

export interface CreateSessionInput {
  readonly terminal: GatewayTerminal;
  readonly credentials: GatewayCredentials;
  readonly scope: SessionScope | undefined;
  /** The broker's request id (≤ 20 chars), sent to the gateway so both logs can be joined. */
  readonly requestId: string;
  /** Aborts the outbound call when the request's total deadline is reached. */
  readonly signal: AbortSignal;
}

export interface GatewaySession {
  readonly sessionId: string;
  /** Lifetime in seconds as stated by the gateway. */
  readonly expiresIn: number;
  readonly reusable: boolean;
  /** Gateway's own reference for the issuance (Hyp: tranId). */
  readonly gatewayReference: string | undefined;
  /** Gateway result code (Hyp: "000"). */
  readonly resultCode: string;
}

export interface GatewayProvider {
  /** Identifier stored on terminals (`hyp`). */
  readonly name: string;
  createSession(input: CreateSessionInput): Promise<GatewaySession>;
}
