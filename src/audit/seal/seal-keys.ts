import { createHash, createPrivateKey, createPublicKey, hkdfSync, type KeyObject, sign, verify } from 'node:crypto';
import { canonicalJson } from '../../common/canonical-json';

/**
 * The seals' asymmetric signatures, shared by the broker (signing, its own verify) and the
 * offline verifier (which has only the published public keys). Pure node:crypto, no I/O.
 *
 * What is signed: the ASCII bytes of the seal's hash in lower-case hex (64 bytes), the same input
 * the HMAC of the version 1 seals took. Signatures are JWS-style: Ed25519 (alg EdDSA) as is,
 * P-256 (alg ES256) as r||s (IEEE P1363), 64 bytes each.
 */
export type SealAlg = 'EdDSA' | 'ES256';

/** A public key as published in the JWK Set of GET /v1/audit/signing-keys. */
export interface SealPublicJwk {
  kty: 'OKP' | 'EC';
  crv: 'Ed25519' | 'P-256';
  x: string;
  y?: string;
  kid: string;
  alg: SealAlg;
  use: 'sig';
  /** When the broker started signing with it (ISO-8601). */
  validFrom: string;
  /** When another key replaced it; null while it is the current key. */
  validTo: string | null;
}

export interface SealSigningKey {
  readonly kid: string;
  readonly alg: SealAlg;
  /** The public half as a bare JWK (kty, crv, x[, y]). */
  readonly publicJwk: Record<string, string>;
  sign(sealHashHex: string): Buffer;
}

const HKDF_INFO = 'pos-session-broker audit seal ed25519 v2';
/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The key is read from the secret store on every sealing round; parsing it (and its thumbprint)
 * takes about a millisecond, so the last one parsed is kept while the store serves the same bytes.
 */
let lastParsed: { source: string; key: SealSigningKey } | undefined;

function memo(source: string, parse: () => SealSigningKey): SealSigningKey {
  if (lastParsed?.source !== source) lastParsed = { source, key: parse() };
  return lastParsed.key;
}

/** A signing key from a PKCS#8 PEM (Ed25519 or P-256); throws naming what is wrong, never the key. */
export function signingKeyFromPem(pem: string): SealSigningKey {
  return memo(`pem:${pem}`, () => parsePem(pem));
}

function parsePem(pem: string): SealSigningKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('is not a PEM private key');
  }
  return signingKeyOf(key);
}

/**
 * The Ed25519 key of a deployment without a seal key of its own: its seed derived with HKDF from
 * the audit key material, so it lives in the secret store as that key does.
 */
export function signingKeyFromAuditKey(material: Buffer): SealSigningKey {
  return memo(`hkdf:${material.toString('base64')}`, () => deriveFromAuditKey(material));
}

function deriveFromAuditKey(material: Buffer): SealSigningKey {
  const seed = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), HKDF_INFO, 32));
  return signingKeyOf(createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }));
}

function signingKeyOf(privateKey: KeyObject): SealSigningKey {
  const alg = algOf(privateKey);
  const publicJwk = bareJwk(createPublicKey(privateKey).export({ format: 'jwk' }));
  return {
    kid: jwkThumbprint(publicJwk),
    alg,
    publicJwk,
    sign: (sealHashHex) =>
      alg === 'EdDSA'
        ? sign(null, Buffer.from(sealHashHex, 'ascii'), privateKey)
        : sign('sha256', Buffer.from(sealHashHex, 'ascii'), { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

function algOf(key: KeyObject): SealAlg {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`must be an Ed25519 or P-256 key (is ${key.asymmetricKeyType ?? 'unknown'})`);
}

/** The members of a public JWK that identify the key (RFC 7638), nothing else. */
function bareJwk(jwk: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of jwk.kty === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['crv', 'kty', 'x']) {
    if (typeof jwk[name] !== 'string') throw new Error(`the public key lacks "${name}"`);
    out[name] = jwk[name];
  }
  return out;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url): the key id every seal names. */
export function jwkThumbprint(jwk: Record<string, unknown>): string {
  return createHash('sha256')
    .update(canonicalJson(bareJwk(jwk)), 'utf8')
    .digest('base64url');
}

/** A published key, checked: its kid must be its thumbprint, its alg must fit its curve. */
export interface SealVerificationKey {
  kid: string;
  alg: SealAlg;
  key: KeyObject;
  validFrom: string;
  validTo: string | null;
}

export function verificationKeyFromJwk(jwk: Record<string, unknown>): SealVerificationKey {
  const alg = jwk.alg;
  const expected = jwk.kty === 'OKP' && jwk.crv === 'Ed25519' ? 'EdDSA' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : undefined;
  if (!expected) throw new Error('is neither an Ed25519 (OKP) nor a P-256 (EC) key');
  if (alg !== expected) throw new Error(`has alg ${String(alg)}, but its curve signs ${expected}`);
  const bare = bareJwk(jwk);
  if (jwk.kid !== jwkThumbprint(bare)) throw new Error('has a kid that is not its RFC 7638 thumbprint');
  if (typeof jwk.validFrom !== 'string' || Number.isNaN(Date.parse(jwk.validFrom))) throw new Error('has no validFrom instant');
  if (jwk.validTo !== null && jwk.validTo !== undefined && (typeof jwk.validTo !== 'string' || Number.isNaN(Date.parse(jwk.validTo)))) {
    throw new Error('has a validTo that is not an instant');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: bare as never, format: 'jwk' });
  } catch {
    throw new Error('is not a valid public key');
  }
  return { kid: jwk.kid, alg: expected, key, validFrom: jwk.validFrom, validTo: jwk.validTo ?? null };
}

export function verifySealSignature(key: SealVerificationKey, sealHashHex: string, signature: Buffer): boolean {
  const data = Buffer.from(sealHashHex, 'ascii');
  try {
    return key.alg === 'EdDSA' ? verify(null, data, key.key, signature) : verify('sha256', data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/**
 * Instances' clocks differ a little, and a key is retired by one instance while another may
 * still finish the seal it signed: a seal's sealedAt may fall this far outside its key's period.
 */
export const KEY_VALIDITY_TOLERANCE_MS = 60_000;

/** Whether `sealedAt` lies in the key's validity period (within the tolerance). */
export function withinValidity(key: Pick<SealVerificationKey, 'validFrom' | 'validTo'>, sealedAt: string): boolean {
  const at = Date.parse(sealedAt);
  if (Number.isNaN(at)) return false;
  if (at < Date.parse(key.validFrom) - KEY_VALIDITY_TOLERANCE_MS) return false;
  return key.validTo === null || at <= Date.parse(key.validTo) + KEY_VALIDITY_TOLERANCE_MS;
}
