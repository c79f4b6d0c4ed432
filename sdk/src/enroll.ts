import { exportPrivateJwk, type DeviceKey, type DeviceKeyAlg, type KeyStore } from './keys.js';
import { joinUrl, sendWithRetries, systemClock, type Clock, type FetchLike, type RetryPolicy } from './transport.js';

/** What a device keeps after enrolling (with its private key, in a KeyStore). Nothing here is secret. */
export interface DeviceCredentials {
  readonly brokerUrl: string;
  readonly deviceId: string;
  readonly keyId: string;
  readonly alg: DeviceKeyAlg;
  readonly terminalNumbers: readonly string[];
  /** The `aud` the broker expects in this device's tokens, as the broker announced it at enrollment. */
  readonly audience: string;
}

export interface EnrollOptions {
  /** The broker's base URL; or give `enrollUrl` (the QR code's URL), which carries both URL and code. */
  readonly brokerUrl?: string;
  readonly enrollUrl?: string;
  /** The one-time code as the person typed it; case, spaces and dashes do not matter. */
  readonly code?: string;
  readonly key: DeviceKey;
  readonly name?: string;
  readonly softwareVersion?: string;
  /** Saves the credentials and the private key (the key must be extractable). */
  readonly store?: KeyStore;
  readonly fetch?: FetchLike;
  readonly retry?: RetryPolicy;
  readonly clock?: Clock;
  readonly random?: () => number;
}

/**
 * Redeems a one-time enrollment code with the device's public key (POST /v1/enrollments; the code
 * goes in the body, never in a URL). A refused code is a BrokerProblemError with status 400 and
 * code `enrollment-code-refused`, whatever the reason; a key already enrolled, 409.
 */
export async function enroll(options: EnrollOptions): Promise<DeviceCredentials> {
  const { brokerUrl, code } = target(options);
  const body = JSON.stringify({
    code,
    publicKey: options.key.publicJwk,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.softwareVersion === undefined ? {} : { softwareVersion: options.softwareVersion }),
  });
  const res = await sendWithRetries(
    {
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      retry: options.retry ?? {},
    },
    joinUrl(brokerUrl, '/v1/enrollments'),
    () => Promise.resolve({ method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body }),
  );
  const enrolled = (await res.json()) as { deviceId: string; keyId: string; alg: DeviceKeyAlg; terminalNumbers: string[]; audience: string };
  const credentials: DeviceCredentials = {
    brokerUrl,
    deviceId: enrolled.deviceId,
    keyId: enrolled.keyId,
    alg: enrolled.alg,
    terminalNumbers: enrolled.terminalNumbers,
    audience: enrolled.audience,
  };
  if (options.store) await options.store.save({ ...credentials, privateJwk: await exportPrivateJwk(options.key) });
  return credentials;
}

function target(options: EnrollOptions): { brokerUrl: string; code: string } {
  if (options.enrollUrl !== undefined) {
    const url = new URL(options.enrollUrl);
    const code = new URLSearchParams(url.hash.replace(/^#/, '')).get('code') ?? options.code;
    if (!code) throw new TypeError('The enrollUrl carries no code (#code=...).');
    const path = url.pathname.replace(/\/v1\/enrollments\/?$/, '');
    return { brokerUrl: `${url.origin}${path}`, code };
  }
  if (!options.brokerUrl || !options.code) throw new TypeError('enroll() needs brokerUrl and code, or enrollUrl.');
  return { brokerUrl: options.brokerUrl, code: options.code };
}
