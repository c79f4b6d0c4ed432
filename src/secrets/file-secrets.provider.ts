import { readFile, stat } from 'node:fs/promises';
import { DependencyUnavailableError } from '../common/errors';
import { SecretRecord, sealSecret } from './secret-record';
import { SecretsProvider } from './secrets-provider';

/**
 * Development store: a JSON file `{ "<ref>": { "<field>": "<value>" } }`. Re-read when its
 * modification time changes (checked at most once per TTL), so edits need no restart.
 */
export class FileSecretsProvider extends SecretsProvider {
  readonly name = 'file';
  private secrets = new Map<string, SecretRecord>();
  private loadedMtimeMs = -1;
  private checkedAt = 0;
  private reload: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly ttlMs: number,
  ) {
    super();
  }

  async get(ref: string): Promise<SecretRecord> {
    if (Date.now() - this.checkedAt >= this.ttlMs || this.loadedMtimeMs < 0) await this.reloadFile();
    const secret = this.secrets.get(ref);
    if (!secret) throw new SecretNotFoundError(ref);
    return secret;
  }

  async refresh(ref: string): Promise<SecretRecord> {
    this.checkedAt = 0;
    await this.reloadFile();
    const secret = this.secrets.get(ref);
    if (!secret) throw new SecretNotFoundError(ref);
    return secret;
  }

  async check(): Promise<void> {
    await this.reloadFile();
  }

  private reloadFile(): Promise<void> {
    this.reload ??= this.load().finally(() => (this.reload = undefined));
    return this.reload;
  }

  private async load(): Promise<void> {
    try {
      const { mtimeMs } = await stat(this.path);
      this.checkedAt = Date.now();
      if (mtimeMs === this.loadedMtimeMs) return;
      const parsed: unknown = JSON.parse(await readFile(this.path, 'utf8'));
      this.secrets = toRecords(parsed);
      this.loadedMtimeMs = mtimeMs;
    } catch (err) {
      // Keep serving what was loaded; only a store never read is "down".
      if (this.loadedMtimeMs >= 0) return;
      throw new DependencyUnavailableError('The secret store cannot be read.', 5, {
        cause: new Error(`secrets file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? 'invalid JSON'}`),
      });
    }
  }
}

export class SecretNotFoundError extends DependencyUnavailableError {
  constructor(readonly ref: string) {
    super('The credentials for this terminal are not available.', 30);
  }
}

function toRecords(parsed: unknown): Map<string, SecretRecord> {
  if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
  const out = new Map<string, SecretRecord>();
  for (const [ref, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (ref.startsWith('_') || typeof value !== 'object' || value === null) continue;
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) if (typeof v === 'string') fields[k] = v;
    out.set(ref, sealSecret(fields));
  }
  return out;
}
