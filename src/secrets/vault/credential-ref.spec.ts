import { InvalidCredentialRefError, parseCredentialRef, pickFields } from './credential-ref';

describe('credential references', () => {
  it('takes a path inside the mount, with optional field → key mappings', () => {
    expect(parseCredentialRef('merchants/0882819014')).toEqual({ path: 'merchants/0882819014', keys: [] });
    expect(parseCredentialRef('hyp/store-1/0882819014?username=user&password=pass')).toEqual({
      path: 'hyp/store-1/0882819014',
      keys: [
        ['username', 'user'],
        ['password', 'pass'],
      ],
    });
    expect(parseCredentialRef('broker/audit-fingerprint-key').path).toBe('broker/audit-fingerprint-key');
  });

  it.each([
    ['empty', ''],
    ['leading slash', '/merchants/1'],
    ['trailing slash', 'merchants/1/'],
    ['empty segment', 'merchants//1'],
    ['climbing out', 'merchants/../sys/policy'],
    ['dot segment', 'merchants/./1'],
    ['space', 'merchants/1 2'],
    ['percent', 'merchants/1%2F..'],
    ['empty mapping', 'merchants/1?'],
    ['mapping without key', 'merchants/1?password'],
    ['empty key', 'merchants/1?password='],
    ['bad field name', 'merchants/1?1password=pw'],
    ['field mapped twice', 'merchants/1?password=a&password=b'],
    ['bad key', 'merchants/1?password=a b'],
    ['too many segments', 'a/'.repeat(40) + 'a'],
    ['too long', 'x'.repeat(1025)],
  ])('refuses a reference with %s', (_label, ref) => {
    expect(() => parseCredentialRef(ref)).toThrow(InvalidCredentialRefError);
  });

  it('hands out every string value, each mapped field from its key, and names a missing key without any value', () => {
    const data = { user: 'merchant-a', pass: 's3cr3t-pw', note: 'rotated 2026-11', retries: 3 };
    expect(pickFields(parseCredentialRef('m/1?username=user&password=pass'), data)).toEqual({
      user: 'merchant-a',
      pass: 's3cr3t-pw',
      note: 'rotated 2026-11',
      username: 'merchant-a',
      password: 's3cr3t-pw',
    });
    expect(pickFields(parseCredentialRef('m/1'), { username: 'u', password: 'p' })).toEqual({ username: 'u', password: 'p' });

    let message = '';
    try {
      pickFields(parseCredentialRef('m/1?password=pwd'), data);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('"pwd"');
    expect(message).not.toContain('s3cr3t-pw');
    expect(() => pickFields(parseCredentialRef('m/1?password=retries'), data)).toThrow(/no string value under "retries"/);
  });

  it('ignores a __proto__ key in the secret', () => {
    const data = JSON.parse('{"__proto__": "x", "password": "p"}') as Record<string, unknown>;
    const fields = pickFields(parseCredentialRef('m/1'), data);
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
    expect(Object.keys(fields)).toEqual(['password']);
  });
});
