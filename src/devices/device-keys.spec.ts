import { generateKeyPairSync, randomUUID, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { AuthenticationError, ValidationError } from '../common/errors';
import { decodeDeviceToken, devicePublicKey, signatureMatches, verifyDeviceToken } from './device-keys';

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
function edDsa(privateKey: KeyObject, payload: object, header: object = { alg: 'EdDSA', typ: 'JWT' }): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${cryptoSign(null, Buffer.from(input), privateKey).toString('base64url')}`;
}
const verifyToken = (raw: string, key: KeyObject, options: { audience: string; clockSkewSeconds: number }) =>
  verifyDeviceToken(decodeDeviceToken(raw), key, options);
const reasonOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof AuthenticationError ? err.reason : String(err);
  }
  return 'accepted';
};

describe('device keys', () => {
  const ed = generateKeyPairSync('ed25519');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const opts = { audience: 'broker', clockSkewSeconds: 30 };
  const now = () => Math.floor(Date.now() / 1000);

  it('reads ES256 and EdDSA public keys from JWK or PEM, refusing others and private keys', () => {
    expect(devicePublicKey(ec.publicKey.export({ format: 'jwk' }) as Record<string, unknown>).alg).toBe('ES256');
    expect(devicePublicKey(ed.publicKey.export({ type: 'spki', format: 'pem' }).toString())).toMatchObject({
      alg: 'EdDSA',
      jwk: { kty: 'OKP', crv: 'Ed25519' },
    });
    expect(() => devicePublicKey(generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' }) as Record<string, unknown>)).toThrow(ValidationError);
    expect(() => devicePublicKey(ed.privateKey.export({ format: 'jwk' }) as Record<string, unknown>)).toThrow(/public key only/);
    expect(() => devicePublicKey({ kty: 'EC' })).toThrow(/not a readable public key/);
  });

  it('verifies EdDSA tokens: signature, audience, expiry, not-before', () => {
    const good = { sub: 'd', aud: 'broker', iat: now(), exp: now() + 60, jti: randomUUID() };
    expect(verifyToken(edDsa(ed.privateKey, good), ed.publicKey, opts)).toMatchObject({ sub: 'd' });
    expect(verifyToken(edDsa(ed.privateKey, { ...good, aud: ['x', 'broker'] }), ed.publicKey, opts)).toMatchObject({ sub: 'd' });
    const other = generateKeyPairSync('ed25519');
    expect(reasonOf(() => verifyToken(edDsa(other.privateKey, good), ed.publicKey, opts))).toBe('bad-signature');
    expect(reasonOf(() => verifyToken(edDsa(ed.privateKey, { ...good, aud: 'x' }), ed.publicKey, opts))).toBe('wrong-audience');
    expect(reasonOf(() => verifyToken(edDsa(ed.privateKey, { ...good, exp: now() - 31 }), ed.publicKey, opts))).toBe('token-expired');
    expect(reasonOf(() => verifyToken(edDsa(ed.privateKey, { ...good, exp: now() - 10 }), ed.publicKey, opts))).toBe('accepted');
    expect(reasonOf(() => verifyToken(edDsa(ed.privateKey, { ...good, nbf: now() + 120 }), ed.publicKey, opts))).toBe('token-not-yet-valid');
    const token = edDsa(ed.privateKey, good);
    expect(reasonOf(() => verifyToken(token.slice(0, token.lastIndexOf('.') + 1), ed.publicKey, opts))).toBe('unsigned-token');
    expect(reasonOf(() => verifyToken('a.b', ed.publicKey, opts))).toBe('malformed-token');
    // A payload changed after signing.
    const [h, , s] = token.split('.');
    expect(reasonOf(() => verifyToken(`${h}.${b64({ ...good, sub: 'other' })}.${s}`, ed.publicKey, opts))).toBe('bad-signature');
    // An ES256 key never verifies an EdDSA token.
    expect(reasonOf(() => verifyToken(token, ec.publicKey, opts))).toBe('bad-signature');
  });

  it('verifies ES256 tokens the same way, refusing other algorithms and claims of the wrong type', () => {
    const good = { sub: 'd', aud: 'broker', iat: now(), exp: now() + 60, jti: randomUUID() };
    const es = (payload: object) => {
      const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(payload)}`;
      return `${input}.${cryptoSign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    };
    expect(verifyToken(es(good), ec.publicKey, opts)).toMatchObject({ sub: 'd' });
    expect(reasonOf(() => verifyToken(es(good), generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, opts))).toBe('bad-signature');
    expect(reasonOf(() => verifyToken(es({ ...good, exp: now() - 31 }), ec.publicKey, opts))).toBe('token-expired');
    expect(reasonOf(() => verifyToken(es({ ...good, aud: 'x' }), ec.publicKey, opts))).toBe('wrong-audience');
    expect(reasonOf(() => verifyToken(es({ ...good, nbf: 'soon' }), ec.publicKey, opts))).toBe('malformed-token');
    const hs = sign(good, 'a-shared-secret-of-sufficient-length', { algorithm: 'HS256' });
    expect(reasonOf(() => verifyToken(hs, ec.publicKey, opts))).toBe('algorithm-refused');
    expect(reasonOf(() => verifyToken(`${b64({ alg: 'none' })}.${b64(good)}.`, ec.publicKey, opts))).toBe('unsigned-token');
    expect(reasonOf(() => verifyToken(`${b64({ alg: 'ES256' })}.bm90IGpzb24.${'A'.repeat(86)}`, ec.publicKey, opts))).toBe('malformed-token');
    expect(reasonOf(() => verifyToken('a.b.c.d', ec.publicKey, opts))).toBe('malformed-token');
  });

  it('tells which key signed a token (key selection without kid)', () => {
    const es = sign({ sub: 'd' }, ec.privateKey, { algorithm: 'ES256' });
    expect(signatureMatches(es, 'ES256', ec.publicKey)).toBe(true);
    expect(signatureMatches(es, 'ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toBe(false);
    expect(signatureMatches(es, 'EdDSA', ed.publicKey)).toBe(false);
    expect(signatureMatches(edDsa(ed.privateKey, { sub: 'd' }), 'EdDSA', ed.publicKey)).toBe(true);
    expect(signatureMatches('garbage', 'ES256', ec.publicKey)).toBe(false);
  });
});
