import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from 'jsonwebtoken';
import { validateConfig } from '../src/config/config.schema';
import { ensureLocalOperatorKey, localOperatorSettings, mintLocalOperatorToken } from '../src/operators/local-operator-key';
import { BrokerHarness, OPERATOR_AUDIENCE } from './support/broker-harness';

describe('embedded mode: local operator key and operator:token', () => {
  let dir: string;
  let keyFile: string;
  let h: BrokerHarness;
  const configOf = (env: Record<string, string> = {}) => validateConfig({ OPERATOR_LOCAL_KEY_FILE: keyFile, OPERATOR_JWT_AUDIENCE: OPERATOR_AUDIENCE, ...env });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psb-opkey-'));
    keyFile = join(dir, 'data', 'operator-key.pem');
    const key = ensureLocalOperatorKey(keyFile);
    // As run-embedded.ts does: the broker trusts the local key.
    h = await BrokerHarness.start({ OPERATOR_JWT_ISSUER: '', ...localOperatorSettings(configOf(), key) });
  });

  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the key once, readable by its owner only', () => {
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const again = ensureLocalOperatorKey(keyFile);
    expect(again.export({ format: 'jwk' })).toEqual(ensureLocalOperatorKey(keyFile).export({ format: 'jwk' }));
  });

  it('mints tokens the embedded broker accepts, with the roles asked for', async () => {
    const token = mintLocalOperatorToken(['--roles', 'admin,auditor', '--subject', 'alice', '--ttl', '600'], configOf());
    expect(decode(token, { json: true })).toMatchObject({ sub: 'alice', roles: ['admin', 'auditor'], iss: 'pos-session-broker-local', aud: OPERATOR_AUDIENCE });
    const res = await h.send('GET', '/v1/admin/terminals', undefined, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    const auditorOnly = mintLocalOperatorToken(['--roles', 'auditor'], configOf(), 'bob');
    expect(decode(auditorOnly, { json: true })?.sub).toBe('local:bob');
    expect((await h.send('POST', '/v1/admin/terminals', {}, { authorization: `Bearer ${auditorOnly}` })).status).toBe(403);
  });

  it('refuses bad arguments, production, and a configured identity provider', () => {
    expect(() => mintLocalOperatorToken([], configOf())).toThrow(/--roles/);
    expect(() => mintLocalOperatorToken(['--roles', 'root'], configOf())).toThrow(/--roles/);
    expect(() => mintLocalOperatorToken(['--roles', 'admin', '--ttl', '999999'], configOf())).toThrow(/--ttl/);
    expect(() => mintLocalOperatorToken(['--roles', 'admin', '--colour', 'red'], configOf())).toThrow(/Unknown option/);
    expect(() => mintLocalOperatorToken(['--roles', 'admin'], configOf({ OPERATOR_JWKS_URI: 'https://idp.example/jwks' }))).toThrow(
      /identity provider key is configured/,
    );
    const prod = { ...configOf(), NODE_ENV: 'production' as const };
    expect(() => mintLocalOperatorToken(['--roles', 'admin'], prod)).toThrow(/embedded development mode/);
  });
});
