import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { generateDeviceKey, type DeviceKeyAlg } from './keys.js';
import { signDeviceToken } from './jwt.js';

interface Claims {
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  sv?: string;
}

function decode(token: string): { header: Record<string, unknown>; payload: Claims; signature: string; signingInput: string } {
  const [h, p, s] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Claims,
    signature: s,
    signingInput: `${h}.${p}`,
  };
}

describe('device tokens (WebCrypto signing, verified with node:crypto)', () => {
  it.each<DeviceKeyAlg>(['ES256', 'EdDSA'])('signs %s tokens that node:crypto verifies with the public JWK', async (alg) => {
    const key = await generateDeviceKey({ alg });
    const now = Date.UTC(2026, 10, 30, 12, 0, 0);
    const token = await signDeviceToken(key, { deviceId: 'dev-1', keyId: 'key-1', audience: 'aud-x', softwareVersion: '1.2.3', now });
    const { header, payload, signature, signingInput } = decode(token);
    expect(header).toEqual({ alg, typ: 'JWT', kid: 'key-1' });
    expect(payload).toMatchObject({ sub: 'dev-1', aud: 'aud-x', iat: now / 1000, exp: now / 1000 + 60, sv: '1.2.3' });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);

    const publicKey = createPublicKey({ key: key.publicJwk as unknown as JsonWebKey, format: 'jwk' });
    const sig = Buffer.from(signature, 'base64url');
    const ok =
      alg === 'ES256'
        ? verify('sha256', Buffer.from(signingInput), { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig)
        : verify(null, Buffer.from(signingInput), publicKey, sig);
    expect(ok).toBe(true);
    // Tampering breaks it.
    const tampered = Buffer.from(signingInput.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    const bad = alg === 'ES256' ? verify('sha256', tampered, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig) : verify(null, tampered, publicKey, sig);
    expect(bad).toBe(false);
  });

  it('makes a new jti every time and never lives longer than 60 s', async () => {
    const key = await generateDeviceKey();
    const claims = { deviceId: 'd', keyId: 'k', audience: 'a', lifetimeSeconds: 3_600 };
    const [a, b] = await Promise.all([signDeviceToken(key, claims), signDeviceToken(key, claims)]);
    const pa = decode(a).payload;
    const pb = decode(b).payload;
    expect(pa.jti).not.toBe(pb.jti);
    expect(pa.exp - pa.iat).toBe(60);
    expect(Math.abs(pa.iat - Date.now() / 1000)).toBeLessThan(5);
    const short = decode(await signDeviceToken(key, { ...claims, lifetimeSeconds: 20 })).payload;
    expect(short.exp - short.iat).toBe(20);
    expect('sv' in pa).toBe(false);
  });

  it('exports only the public part of the key, and keeps the private key non-extractable by default', async () => {
    const key = await generateDeviceKey({ alg: 'ES256' });
    expect(Object.keys(key.publicJwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    expect(key.privateKey.extractable).toBe(false);
    const ed = await generateDeviceKey({ alg: 'EdDSA' });
    expect(ed.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: ed.publicJwk.x });
    expect(ed.publicJwk.x).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(generateDeviceKey({ alg: 'RS256' as never })).rejects.toThrow(/ES256 or EdDSA/);
  });
});
