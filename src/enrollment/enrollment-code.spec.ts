import { CODE_LENGTH, generateEnrollmentCode, hashEnrollmentCode, readEnrollmentCode } from './enrollment-code';

describe('enrollment codes', () => {
  it('are 14 Crockford symbols in groups of four, and read back as generated', () => {
    const code = generateEnrollmentCode();
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}$/);
    expect(readEnrollmentCode(code)).toEqual({ ok: true, normalised: code.replace(/-/g, '') });
    expect(code.replace(/-/g, '')).toHaveLength(CODE_LENGTH);
  });

  it('are not repeated (65 random bits)', () => {
    const codes = new Set(Array.from({ length: 2_000 }, generateEnrollmentCode));
    expect(codes.size).toBe(2_000);
  });

  it('normalise case, spaces, dashes and the letters Crockford reads as digits', () => {
    const code = generateEnrollmentCode();
    const plain = code.replace(/-/g, '');
    const typed = ` ${plain.toLowerCase().slice(0, 5)} - ${plain.toLowerCase().slice(5)} `;
    expect(readEnrollmentCode(typed)).toEqual({ ok: true, normalised: plain });
    const withO = plain.replace(/0/g, 'o').replace(/1/g, 'l');
    expect(readEnrollmentCode(withO)).toEqual({ ok: true, normalised: plain });
  });

  it('catch every single mistyped symbol with the check symbol', () => {
    const plain = generateEnrollmentCode().replace(/-/g, '');
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    for (let i = 0; i < plain.length; i++) {
      for (const c of alphabet) {
        if (c === plain[i]) continue;
        const typo = plain.slice(0, i) + c + plain.slice(i + 1);
        expect(readEnrollmentCode(typo)).toEqual({ ok: false, reason: 'bad-checksum' });
      }
    }
  });

  it('refuse the wrong length or foreign symbols as malformed', () => {
    expect(readEnrollmentCode('ABCD')).toEqual({ ok: false, reason: 'malformed-code' });
    expect(readEnrollmentCode('ABCD-EFGH-JKMN-P*')).toEqual({ ok: false, reason: 'malformed-code' });
    expect(readEnrollmentCode('UUUU-UUUU-UUUU-UU')).toEqual({ ok: false, reason: 'malformed-code' });
  });

  it('hash the normalised code only', () => {
    const code = generateEnrollmentCode();
    expect(hashEnrollmentCode(code.replace(/-/g, ''))).toMatch(/^[0-9a-f]{64}$/);
    expect(hashEnrollmentCode(code.replace(/-/g, ''))).not.toContain(code);
  });
});
