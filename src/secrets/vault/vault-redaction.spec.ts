import pino from 'pino';
import { REDACTED_PATHS } from '../../http/logging';
import { sealSecret } from '../secret-record';
import { VaultError } from './vault-errors';

/** The logger's net under a mistake: Vault material is blanked wherever a log object carries it. */
describe('log redaction of Vault material', () => {
  function logged(obj: object): string {
    const lines: string[] = [];
    pino({ redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, { write: (l: string) => lines.push(l) }).info(obj);
    return lines.join('');
  }

  it('blanks tokens, login material and credentials at the top level and one level down', () => {
    const out = logged({
      req: { headers: { 'x-vault-token': 'hvs.header-token' } },
      auth: { client_token: 'hvs.client-token-1', accessor: 'acc-1' },
      login: { role_id: 'role-id-1', secret_id: 'secret-id-1', jwt: 'eyJ.k8s.jwt' },
      vault: { headers: { 'x-vault-token': 'hvs.nested-header' }, token: 'hvs.token-field', clientToken: 'hvs.camel' },
      config: { VAULT_TOKEN: 'hvs.env-token', VAULT_APPROLE_SECRET_ID: 'env-secret-id' },
      client_token: 'hvs.top-level',
      secret_id: 'top-secret-id',
      jwt: 'eyJ.top.jwt',
      token: 'hvs.top-token',
      credentials: { username: 'merchant-a', password: 'merchant-pw' },
    });
    for (const secret of [
      'hvs.header-token',
      'hvs.client-token-1',
      'role-id-1',
      'secret-id-1',
      'eyJ.k8s.jwt',
      'hvs.nested-header',
      'hvs.token-field',
      'hvs.camel',
      'hvs.env-token',
      'env-secret-id',
      'hvs.top-level',
      'top-secret-id',
      'eyJ.top.jwt',
      'hvs.top-token',
      'merchant-pw',
    ]) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('acc-1'); // accessors identify a token without granting anything
  });

  it('a sealed record logged by mistake prints [redacted], whatever key holds it', () => {
    const out = logged({ record: sealSecret({ username: 'merchant-a', password: 'merchant-pw-2' }), nested: { r: sealSecret({ key: 'a2V5' }) } });
    expect(out).not.toContain('merchant-pw-2');
    expect(out).not.toContain('a2V5');
  });

  it('a VaultError message carries Vault’s words and the status, cut short', () => {
    const err = new VaultError('kv read', 'permission-denied', 403, ['permission denied', 'x'.repeat(500)]);
    expect(err.message).toMatch(/^Vault kv read: permission denied \(HTTP 403\): permission denied; x{160}$/);
    expect(err.storeLevel).toBe(false);
    expect(new VaultError('kv read', 'sealed', 503).storeLevel).toBe(true);
  });
});
