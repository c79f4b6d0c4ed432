import { createServer } from 'node:net';
import type { Config } from '../config/config.schema';
import { VaultError, storeProblem } from '../secrets/vault/vault-errors';

/**
 * A port the service is about to listen on, checked first so that a busy one is reported once, in
 * words that name the setting (Nest would log the bare EADDRINUSE itself before rejecting).
 */
export async function assertPortFree(port: number, host: string, setting: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new StartUpError(
            `port ${port} on ${host} is already in use (${setting}=${port}): stop the process that holds it, or set ${setting} to a free port, e.g. ${setting}=${port + 1}.`,
          ),
        );
      } else if (err.code === 'EACCES') {
        reject(new StartUpError(`port ${port} on ${host} needs privileges this process does not have (${setting}=${port}): use a port above 1023.`));
      } else if (err.code === 'EADDRNOTAVAIL') {
        reject(new StartUpError(`${host} is not an address of this machine (HOST=${host}).`));
      } else reject(err);
    });
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** A start-up failure whose message already says what to change. */
export class StartUpError extends Error {}

/**
 * Why the service did not start, for its last line on stderr: the error and its causes, and for a
 * secret store that cannot be used, which Vault (VAULT_ADDR) and why (refused, TLS, 403, sealed).
 */
export function describeStartUpFailure(err: unknown, config?: Pick<Config, 'VAULT_ADDR' | 'SECRETS_PROVIDER'>): string {
  if (err instanceof StartUpError) return err.message;
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 6; e = (e as { cause?: unknown }).cause) chain.push(e);
  const vault = chain.find((e): e is VaultError => e instanceof VaultError);
  const messages = [...new Set(chain.map((e) => (e instanceof Error ? e.message : String(e))))];
  if (vault && config?.SECRETS_PROVIDER === 'vault') {
    const why =
      vault.status === 403
        ? 'Vault refused the broker’s token or policy (HTTP 403): check VAULT_TOKEN or the AppRole/Kubernetes login and the broker’s policy.'
        : storeProblem(vault);
    return `the secret store cannot be used: ${why} VAULT_ADDR=${config.VAULT_ADDR ?? '(unset)'}. (${messages.join(' ← ')})`;
  }
  return messages.join(' ← ');
}
