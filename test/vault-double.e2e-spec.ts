import { request } from 'undici';
import { startVaultDouble, type VaultDouble } from './support/vault-double';

/** The double must answer like Vault does, or tests against it prove nothing. */
describe('Vault HTTP double follows Vault’s documented shapes', () => {
  let v: VaultDouble;

  beforeAll(async () => {
    v = await startVaultDouble({
      policies: { broker: ['secret/data/merchants/*'] },
      approle: { roleId: 'role-1', secretId: 'secret-1', policies: ['broker'], tokenTtl: 60, tokenMaxTtl: 90 },
      kubernetes: { role: 'pos-session-broker', jwt: 'header.payload.signature', policies: ['broker'], tokenTtl: 120 },
    });
    v.writeSecret('secret', 'merchants/0882819014', { username: 'merchant-a', password: 'pw-1' });
    v.writeSecret('secret', 'merchants/0882819014', { username: 'merchant-a', password: 'pw-2' });
  });
  afterAll(() => v.close());

  async function call(method: 'GET' | 'POST' | 'DELETE', path: string, token?: string, body?: unknown) {
    const res = await request(`${v.url}/v1/${path}`, {
      method,
      headers: { ...(token ? { 'x-vault-token': token } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.body.text();
    // Vault's JSON answers, whose shape each test asserts.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return { status: res.statusCode, body: (text ? JSON.parse(text) : undefined) as Record<string, any> };
  }

  it('KV v2 read: data.data and data.metadata.version of the latest version, or ?version=N', async () => {
    const latest = await call('GET', 'secret/data/merchants/0882819014', v.rootToken);
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      wrap_info: null,
      warnings: null,
      auth: null,
      data: {
        data: { username: 'merchant-a', password: 'pw-2' },
        metadata: { custom_metadata: null, deletion_time: '', destroyed: false, version: 2 },
      },
    });
    expect(typeof latest.body.request_id).toBe('string');
    expect(Date.parse(latest.body.data.metadata.created_time)).not.toBeNaN();
    const first = await call('GET', 'secret/data/merchants/0882819014?version=1', v.rootToken);
    expect(first.body.data).toMatchObject({ data: { password: 'pw-1' }, metadata: { version: 1 } });

    const meta = await call('GET', 'secret/metadata/merchants/0882819014', v.rootToken);
    expect(meta.body.data).toMatchObject({ current_version: 2, max_versions: 0, cas_required: false });
    expect(Object.keys(meta.body.data.versions)).toEqual(['1', '2']);
  });

  it('KV v2 write over HTTP creates a version; 404 for a missing path; a soft-deleted version is 404 with its metadata', async () => {
    const written = await call('POST', 'secret/data/merchants/0882819099', v.rootToken, { data: { username: 'u', password: 'p' } });
    expect(written.status).toBe(200);
    expect(written.body.data).toMatchObject({ version: 1, deletion_time: '', destroyed: false });

    expect(await call('GET', 'secret/data/merchants/nope', v.rootToken)).toEqual({ status: 404, body: { errors: [] } });

    expect((await call('DELETE', 'secret/data/merchants/0882819099', v.rootToken)).status).toBe(204);
    const deleted = await call('GET', 'secret/data/merchants/0882819099', v.rootToken);
    expect(deleted.status).toBe(404);
    expect(deleted.body.data.data).toBeNull();
    expect(deleted.body.data.metadata.deletion_time).not.toBe('');
  });

  it('403 permission denied without a token, with an unknown one, or outside the token’s policy', async () => {
    const denied = { status: 403, body: { errors: ['permission denied'] } };
    expect(await call('GET', 'secret/data/merchants/0882819014')).toEqual(denied);
    expect(await call('GET', 'secret/data/merchants/0882819014', 'hvs.not-a-token')).toEqual(denied);
    const token = v.issueToken({ policies: ['broker'], ttl: 60 });
    expect((await call('GET', 'secret/data/merchants/0882819014', token)).status).toBe(200);
    expect(await call('GET', 'secret/data/other/thing', token)).toEqual(denied);
    // A policy grants read only: writes need more.
    expect((await call('POST', 'secret/data/merchants/0882819014', token, { data: { password: 'x' } })).status).toBe(403);
  });

  it('AppRole login answers an auth block; a wrong secret_id is 400 "invalid role or secret ID"', async () => {
    const ok = await call('POST', 'auth/approle/login', undefined, { role_id: 'role-1', secret_id: 'secret-1' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      data: null,
      lease_duration: 0,
      renewable: false,
      auth: {
        lease_duration: 60,
        renewable: true,
        token_type: 'service',
        orphan: true,
        policies: ['default', 'broker'],
        token_policies: ['default', 'broker'],
      },
    });
    expect(ok.body.auth.client_token).toMatch(/^hvs\./);
    expect(typeof ok.body.auth.accessor).toBe('string');
    expect(await call('POST', 'auth/approle/login', undefined, { role_id: 'role-1', secret_id: 'wrong' })).toEqual({
      status: 400,
      body: { errors: ['invalid role or secret ID'] },
    });
    expect((await call('POST', 'auth/approle/login', undefined, { secret_id: 'secret-1' })).body).toEqual({ errors: ['missing role_id'] });
  });

  it('Kubernetes login: role + service-account JWT; a JWT it does not accept is 403, an unknown role 400', async () => {
    const ok = await call('POST', 'auth/kubernetes/login', undefined, { role: 'pos-session-broker', jwt: 'header.payload.signature' });
    expect(ok.status).toBe(200);
    expect(ok.body.auth).toMatchObject({ lease_duration: 120, renewable: true, metadata: { role: 'pos-session-broker' } });
    expect((await call('POST', 'auth/kubernetes/login', undefined, { role: 'pos-session-broker', jwt: 'forged' })).status).toBe(403);
    expect(await call('POST', 'auth/kubernetes/login', undefined, { role: 'nobody', jwt: 'header.payload.signature' })).toEqual({
      status: 400,
      body: { errors: ['invalid role name "nobody"'] },
    });
  });

  it('renew-self extends up to max TTL (with Vault’s warning), lookup-self reports the TTL, an expired token is 403', async () => {
    const login = await call('POST', 'auth/approle/login', undefined, { role_id: 'role-1', secret_id: 'secret-1' });
    const token = login.body.auth.client_token as string;
    const renewed = await call('POST', 'auth/token/renew-self', token, { increment: '60s' });
    expect(renewed.status).toBe(200);
    expect(renewed.body.auth.client_token).toBe(token);
    expect(renewed.body.auth.lease_duration).toBe(60);
    expect(renewed.body.warnings).toBeNull();
    const beyondMax = await call('POST', 'auth/token/renew-self', token, { increment: '1h' });
    expect(beyondMax.body.auth.lease_duration).toBeLessThanOrEqual(90);
    expect(beyondMax.body.warnings[0]).toMatch(/exceeded the effective max_ttl .* capped accordingly/);

    const lookup = await call('GET', 'auth/token/lookup-self', token);
    expect(lookup.body.data).toMatchObject({ renewable: true, creation_ttl: 60, path: 'auth/approle/login', type: 'service' });
    expect(lookup.body.data.ttl).toBeGreaterThan(80);

    v.expireAllTokens();
    expect(await call('GET', 'auth/token/lookup-self', token)).toEqual({ status: 403, body: { errors: ['permission denied'] } });
    expect((await call('POST', 'auth/token/renew-self', token, {})).status).toBe(403);
    // The root token never expires.
    expect((await call('GET', 'auth/token/lookup-self', v.rootToken)).body.data.ttl).toBe(0);
  });

  it('sealed: 503 "Vault is sealed" for everything, sys/health says sealed', async () => {
    v.seal();
    try {
      expect(await call('GET', 'secret/data/merchants/0882819014', v.rootToken)).toEqual({ status: 503, body: { errors: ['Vault is sealed'] } });
      expect((await call('POST', 'auth/approle/login', undefined, { role_id: 'role-1', secret_id: 'secret-1' })).status).toBe(503);
      const health = await call('GET', 'sys/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ initialized: true, sealed: true });
    } finally {
      v.unseal();
    }
    expect((await call('GET', 'sys/health')).body).toMatchObject({ sealed: false });
  });

  it('never records a token or a secret in its request log', () => {
    const log = JSON.stringify(v.requests);
    expect(log).not.toContain(v.rootToken);
    expect(log).not.toContain('secret-1');
    expect(log).not.toContain('pw-2');
    expect(v.requests.some((r) => r.path === 'auth/approle/login' && r.status === 200)).toBe(true);
  });
});
