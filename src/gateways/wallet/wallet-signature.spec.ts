import { walletSignature } from './wallet-signature';

describe('walletSignature', () => {
  it('matches the worked example of the Sessions method', () => {
    expect(walletSignature('walletId=2sdflsd', 'Ax34deSfgdB')).toBe('8F0F3379F1C6CC24DF5A4DC2A937061102487C46');
  });

  it('matches the worked example of the Close method', () => {
    expect(walletSignature('id=3fa85f64-5717-4562-b3fc-2c963f66afa6', 'Ax34deSfgdB')).toBe('097C11EEE445BB16C4FBC5197E1E4492BD47AB0F');
  });

  it('is upper-case hex and depends on both inputs', () => {
    const s = walletSignature('walletId=a', 'k');
    expect(s).toMatch(/^[0-9A-F]{40}$/);
    expect(walletSignature('walletId=b', 'k')).not.toBe(s);
    expect(walletSignature('walletId=a', 'k2')).not.toBe(s);
  });
});
