import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyStore, StoredDevice } from './keys.js';

/**
 * Node only (a separate entry point, `@pos-session-broker/device-sdk/node`, so browser bundles never
 * see node:fs): the device's credentials and private key in one JSON file, mode 0600, replaced
 * atomically (written beside it, then renamed), so a crash never leaves half a key.
 */
export class FileKeyStore implements KeyStore {
  constructor(readonly path: string) {}

  async load(): Promise<StoredDevice | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
    return JSON.parse(text) as StoredDevice;
  }

  async save(device: StoredDevice): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${process.pid}.tmp`;
    // Created 0600 (never readable by others, not even for a moment), whatever the umask.
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(device, null, 2) + '\n', 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, 0o600);
    await rename(temp, this.path);
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

export * from './index.js';
