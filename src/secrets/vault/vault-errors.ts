import { DependencyUnavailableError } from '../../common/errors';
import { SecretNotFoundError } from '../file-secrets.provider';

/**
 * What went wrong talking to Vault. `kind` drives the behaviour: store-level kinds keep cached
 * values serving (up to the max staleness), path-level kinds concern one secret only.
 */
export type VaultErrorKind =
  | 'unreachable'
  | 'tls-failed'
  | 'timeout'
  | 'sealed'
  | 'server-error'
  | 'rate-limited'
  | 'bad-response'
  | 'auth-failed'
  | 'permission-denied'
  | 'not-found'
  | 'bad-request';

const STORE_LEVEL: ReadonlySet<VaultErrorKind> = new Set([
  'unreachable',
  'tls-failed',
  'timeout',
  'sealed',
  'server-error',
  'rate-limited',
  'bad-response',
  'auth-failed',
]);

/**
 * Messages name the operation, the kind and the HTTP status (plus Vault's own error strings,
 * which never echo request values); never a token, a secret_id, a JWT or a secret's value.
 */
export class VaultError extends Error {
  constructor(
    readonly operation: string,
    readonly kind: VaultErrorKind,
    readonly status?: number,
    vaultErrors: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(describe(operation, kind, status, vaultErrors), options);
    this.name = 'VaultError';
  }

  /** Vault itself (or the broker's access to it) is the problem, not one secret. */
  get storeLevel(): boolean {
    return STORE_LEVEL.has(this.kind);
  }
}

function describe(operation: string, kind: VaultErrorKind, status: number | undefined, vaultErrors: readonly string[]): string {
  const said = vaultErrors
    .filter((e) => typeof e === 'string' && e.trim() !== '')
    .map((e) => e.replace(/\s+/g, ' ').trim().slice(0, 160))
    .slice(0, 3);
  return `Vault ${operation}: ${kind.replace('-', ' ')}${status ? ` (HTTP ${status})` : ''}${said.length ? `: ${said.join('; ')}` : ''}`;
}

/** A store-level failure in words an operator reads on /health/ready. */
export function storeProblem(err: unknown): string {
  if (!(err instanceof VaultError)) return 'Vault cannot be used.';
  switch (err.kind) {
    case 'sealed':
      return 'Vault is sealed.';
    case 'unreachable':
      return 'Vault cannot be reached.';
    case 'tls-failed':
      return 'The TLS connection to Vault failed (is its CA in VAULT_CA_FILE?).';
    case 'timeout':
      return 'Vault did not answer in time.';
    case 'auth-failed':
      return 'Vault refused the broker’s authentication.';
    case 'rate-limited':
      return 'Vault is rate limiting the broker.';
    case 'server-error':
      return `Vault answered HTTP ${err.status ?? 500}.`;
    case 'bad-response':
      return 'Vault answered something that is not its API.';
    default:
      return `Vault refused the request (${err.kind.replace('-', ' ')}).`;
  }
}

/**
 * One terminal's credentials cannot be used (missing path or key, policy denies it, malformed
 * reference). The device sees the same text as for a missing secret; `reason` is for the log.
 */
export class CredentialsUnavailableError extends SecretNotFoundError {
  constructor(
    ref: string,
    readonly reason: string,
  ) {
    super(ref);
  }
}

/** Vault is down, sealed or refusing the broker, and nothing usable is cached for this ref. */
export class SecretStoreUnavailableError extends DependencyUnavailableError {
  constructor(options?: { cause?: unknown }) {
    super('The secret store is unavailable. Retry later.', 5, options);
  }
}
