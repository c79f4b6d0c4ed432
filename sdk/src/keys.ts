/**
 * Device keys with WebCrypto only (globalThis.crypto.subtle): ES256 (P-256) by default, Ed25519
 * on request. The private key never leaves the device: the broker only ever sees the public JWK.
 */
export type DeviceKeyAlg = 'ES256' | 'EdDSA';

/** A WebCrypto key, whichever typings (DOM or Node) the caller compiles with. */
export type WebCryptoKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>;

/** A public key as JWK: EC P-256 ({kty: 'EC', crv: 'P-256', x, y}) or Ed25519 ({kty: 'OKP', crv: 'Ed25519', x}). */
export interface PublicJwk {
  readonly kty: 'EC' | 'OKP';
  readonly crv: 'P-256' | 'Ed25519';
  readonly x: string;
  readonly y?: string;
}

/** A private JWK as a KeyStore keeps it ({...public, d}). */
export interface PrivateJwk extends PublicJwk {
  readonly d: string;
}

export interface DeviceKey {
  readonly alg: DeviceKeyAlg;
  /** Signs device JWTs. Generated non-extractable unless asked otherwise (to persist it). */
  readonly privateKey: WebCryptoKey;
  /** What enrollment sends to the broker. */
  readonly publicJwk: PublicJwk;
}

const PARAMS: Record<DeviceKeyAlg, { name: string; namedCurve?: string }> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
};

function subtle(): SubtleCryptoLike {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('WebCrypto (globalThis.crypto.subtle) is not available; install a WebCrypto polyfill.');
  return s;
}
type SubtleCryptoLike = typeof globalThis.crypto.subtle;

/**
 * A new device key pair. `extractable: true` lets a KeyStore persist the private key (the file
 * store does); keep the default (false) when the key lives only in memory or in a platform keystore.
 */
export async function generateDeviceKey(options: { alg?: DeviceKeyAlg; extractable?: boolean } = {}): Promise<DeviceKey> {
  const alg = options.alg ?? 'ES256';
  if (!(alg in PARAMS)) throw new TypeError(`Unsupported device key algorithm ${String(alg)}; use ES256 or EdDSA.`);
  const pair = (await subtle().generateKey(PARAMS[alg], options.extractable ?? false, ['sign', 'verify'])) as unknown as {
    privateKey: WebCryptoKey;
    publicKey: WebCryptoKey;
  };
  const publicJwk = publicPart((await subtle().exportKey('jwk', pair.publicKey)) as unknown as PrivateJwk);
  return { alg, privateKey: pair.privateKey, publicJwk };
}

/** The private JWK of an extractable key, for a KeyStore. */
export async function exportPrivateJwk(key: DeviceKey): Promise<PrivateJwk> {
  if (!key.privateKey.extractable) throw new Error('This device key is not extractable; generate it with { extractable: true } to persist it.');
  const jwk = (await subtle().exportKey('jwk', key.privateKey)) as unknown as PrivateJwk;
  return { ...publicPart(jwk), d: jwk.d };
}

/** A device key from its stored private JWK; the imported key is not extractable again. */
export async function importPrivateJwk(jwk: PrivateJwk): Promise<DeviceKey> {
  const alg: DeviceKeyAlg | undefined = jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : jwk.kty === 'OKP' && jwk.crv === 'Ed25519' ? 'EdDSA' : undefined;
  if (!alg || typeof jwk.d !== 'string') throw new TypeError('Not a P-256 or Ed25519 private JWK.');
  const privateKey = await subtle().importKey('jwk', { ...jwk }, PARAMS[alg], false, ['sign']);
  return { alg, privateKey, publicJwk: publicPart(jwk) };
}

function publicPart(jwk: PublicJwk): PublicJwk {
  return jwk.kty === 'EC' ? { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y } : { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
}

/** Signs `data` with the device key: ECDSA P-256/SHA-256 (IEEE P1363 r||s, as JWS wants) or Ed25519. */
export async function signBytes(key: DeviceKey, data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const params = key.alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'Ed25519' };
  return new Uint8Array(await subtle().sign(params, key.privateKey, data));
}

/**
 * Where a device keeps its key and credentials. Implementations must keep the private key away
 * from other users (the file store writes mode 0600) and must never log it.
 */
export interface KeyStore {
  load(): Promise<StoredDevice | undefined>;
  save(device: StoredDevice): Promise<void>;
  clear(): Promise<void>;
}

/** What a device keeps between runs: its enrollment and its private key. Never a sessionId. */
export interface StoredDevice {
  readonly brokerUrl: string;
  readonly deviceId: string;
  readonly keyId: string;
  readonly alg: DeviceKeyAlg;
  readonly audience: string;
  readonly terminalNumbers: readonly string[];
  readonly privateJwk: PrivateJwk;
}

/** In memory only: for tests, and for runtimes that persist the key elsewhere. */
export class MemoryKeyStore implements KeyStore {
  #device: StoredDevice | undefined;

  load(): Promise<StoredDevice | undefined> {
    return Promise.resolve(this.#device);
  }

  save(device: StoredDevice): Promise<void> {
    this.#device = device;
    return Promise.resolve();
  }

  clear(): Promise<void> {
    this.#device = undefined;
    return Promise.resolve();
  }
}
