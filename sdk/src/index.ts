/**
 * @pos-session-broker/device-sdk: the device side of pos-session-broker, on fetch and WebCrypto
 * alone (Node >= 20, browsers, Electron; React Native with a WebCrypto polyfill).
 */
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { BrokerClient, DEFAULT_AUDIENCE, type BrokerClientOptions, type Session, type SessionRequest } from './client.js';
export { enroll, type DeviceCredentials, type EnrollOptions } from './enroll.js';
export {
  BrokerProblemError,
  BrokerSdkError,
  BrokerUnreachableError,
  DeadlineExceededError,
  RETRYABLE_STATUSES,
  retryAfterSeconds,
  type Problem,
} from './errors.js';
export { MAX_TOKEN_LIFETIME_SECONDS, signDeviceToken, type DeviceTokenClaims } from './jwt.js';
export {
  exportPrivateJwk,
  generateDeviceKey,
  importPrivateJwk,
  MemoryKeyStore,
  type DeviceKey,
  type DeviceKeyAlg,
  type KeyStore,
  type PrivateJwk,
  type PublicJwk,
  type StoredDevice,
  type WebCryptoKey,
} from './keys.js';
export { systemClock, type Clock, type FetchLike, type RetryPolicy } from './transport.js';
