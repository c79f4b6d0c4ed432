import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportPrivateJwk, generateDeviceKey, importPrivateJwk } from './keys.js';
import { FileKeyStore } from './node.js';

describe('FileKeyStore (Node)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'sdk-store-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the device in a file only its owner can read, and gives the key back', async () => {
    const store = new FileKeyStore(join(dir, 'nested', 'device.json'));
    expect(await store.load()).toBeUndefined();
    const key = await generateDeviceKey({ extractable: true });
    const device = {
      brokerUrl: 'http://b',
      deviceId: 'd',
      keyId: 'k',
      alg: 'ES256' as const,
      audience: 'a',
      terminalNumbers: ['0882819014'],
      privateJwk: await exportPrivateJwk(key),
    };
    const oldUmask = process.umask(0o000);
    try {
      await store.save(device);
    } finally {
      process.umask(oldUmask);
    }
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    const loaded = await store.load();
    expect(loaded).toEqual(device);
    const again = await importPrivateJwk(loaded!.privateJwk);
    expect(again.publicJwk).toEqual(key.publicJwk);
    await store.save({ ...device, keyId: 'k2' });
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    expect((await store.load())?.keyId).toBe('k2');
    await store.clear();
    expect(await store.load()).toBeUndefined();
  });

  it('refuses to persist a key that is not extractable', async () => {
    await expect(exportPrivateJwk(await generateDeviceKey())).rejects.toThrow(/extractable/);
  });
});
