import { validateConfig } from '../../src/config/config.schema';
import type { BrokerHarness } from '../support/broker-harness';
import { BrokerHarness as Harness } from '../support/broker-harness';
import { CONSOLE_DIST, removeDir, startConsoleBroker } from './support/console-browser';

/** How the broker serves the console: strict headers on the console only, sign-in settings, dev tokens. */
describe('console serving (HTTP)', () => {
  let h: BrokerHarness;
  let keyDir: string;

  beforeAll(async () => {
    ({ h, keyDir } = await startConsoleBroker({ CONSOLE_OIDC_CLIENT_ID: 'console', CONSOLE_OIDC_ISSUER: 'https://idp.example.org/realms/pos' }));
  }, 300_000);
  afterAll(async () => {
    await h?.close();
    removeDir(keyDir);
  });

  it('serves the app at /console/ with a strict CSP, no framing and no referrer; the API keeps its headers', async () => {
    const index = await h.send('GET', '/console/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/text\/html/);
    expect(index.text).toContain('<div id="root">');
    const csp = String(index.headers['content-security-policy']);
    const directives = Object.fromEntries(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([k, ...v]) => [k, v]),
    );
    expect(directives['script-src']).toEqual(["'self'"]);
    // Styles: the built stylesheet, and <style> elements with this response's nonce (React Aria's);
    // never 'unsafe-inline' (no style="" in markup; React's CSSOM styles need no allowance).
    expect(directives['style-src']).toEqual(["'self'", expect.stringMatching(/^'nonce-[A-Za-z0-9+/]{22}==?'$/)]);
    expect(csp).not.toContain("'unsafe-inline'");
    expect(csp).not.toContain("'unsafe-eval'");
    const nonce = directives['style-src'][1].slice("'nonce-".length, -1);
    expect(index.text).toContain(`<meta property="csp-nonce" nonce="${nonce}"`);
    expect(index.text).not.toContain('CONSOLE_STYLE_NONCE');
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    expect(directives['connect-src']).toEqual(["'self'", 'https://idp.example.org']);
    expect(directives['object-src']).toEqual(["'none'"]);
    expect(directives['base-uri']).toEqual(["'none'"]);
    expect(index.headers['referrer-policy']).toBe('no-referrer');
    expect(index.headers['x-frame-options']).toBe('DENY');
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    expect(index.headers['cache-control']).toBe('no-store');
    // No inline script in the page itself.
    expect(index.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);

    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(index.text)![1];
    const js = await h.send('GET', asset);
    expect(js.status).toBe(200);
    expect(js.headers['cache-control']).toMatch(/immutable/);

    // A deep link (a shared explorer view) gets the app too, with a nonce of its own.
    const deep = await h.send('GET', '/console/audit?terminalNumber=0882819014&outcome=issued');
    expect(deep.status).toBe(200);
    const deepNonce = /nonce="([^"]+)"/.exec(deep.text)![1];
    expect(deepNonce).not.toBe(nonce);
    expect(String(deep.headers['content-security-policy'])).toContain(`'nonce-${deepNonce}'`);
    expect(deep.text.replace(deepNonce, nonce)).toBe(index.text);
    // index.html by name is the same page, never the file with its placeholder.
    const byName = await h.send('GET', '/console/index.html');
    expect(byName.status).toBe(200);
    expect(byName.text).not.toContain('CONSOLE_STYLE_NONCE');
    expect((await h.send('GET', '/console')).status).toBe(308);
    const missing = await h.send('GET', '/console/assets/nope.js');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/application\/problem\+json/);

    const apiRes = await h.send('GET', '/v1/admin/terminals');
    expect(apiRes.status).toBe(401);
    expect(apiRes.headers['content-security-policy']).toBeUndefined();
    expect(apiRes.headers['referrer-policy']).toBeUndefined();
  });

  it('tells the app how to sign in, without any secret', async () => {
    const res = await h.send('GET', '/console/config.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      oidc: { authority: 'https://idp.example.org/realms/pos', clientId: 'console', scopes: 'openid profile' },
      development: true,
      rolesClaim: 'roles',
    });
  });

  it('mints short-lived development tokens with the chosen roles, which the API accepts, and audits each', async () => {
    const auditor = await h.post('/console/dev-token', { roles: ['auditor'] });
    expect(auditor.status).toBe(201);
    expect(auditor.body.expiresIn).toBe(900);
    const token = auditor.body.accessToken as string;
    expect((await h.send('GET', '/v1/audit/events', undefined, { authorization: `Bearer ${token}` })).status).toBe(200);
    // Roles still rule: an auditor token is no admin.
    expect((await h.send('POST', '/v1/admin/terminals', {}, { authorization: `Bearer ${token}` })).status).toBe(403);
    const minted = await h.db.query<{ actor_id: string; details: { roles: string[] } }>(
      `SELECT actor_id, details FROM audit_event WHERE action = 'console.dev-token'`,
    );
    expect(minted).toEqual([{ actor_id: 'console:developer', details: expect.objectContaining({ roles: ['auditor'] }) }]);
    expect(h.logs.text).not.toContain(token);
  });

  it('refuses a bad role choice with problem+json', async () => {
    for (const body of [{ roles: [] }, { roles: ['root'] }, { roles: ['admin'], password: 'x' }, {}]) {
      const res = await h.post('/console/dev-token', body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(typeof res.body.detail).toBe('string');
    }
  });

  it('has no development sign-in unless enabled, nor when an identity provider key is configured', async () => {
    const plain = await Harness.start({ CONSOLE_DIST_DIR: CONSOLE_DIST });
    try {
      expect((await plain.post('/console/dev-token', { roles: ['admin'] })).status).toBe(404);
      expect((await plain.send('GET', '/console/config.json')).body).toMatchObject({ oidc: null, development: false });
    } finally {
      await plain.close();
    }
    // Enabled, but the broker trusts the test IdP's key, not the local one: nothing to mint.
    const idp = await Harness.start({ CONSOLE_DIST_DIR: CONSOLE_DIST, CONSOLE_DEV_SIGN_IN: 'true', OPERATOR_LOCAL_KEY_FILE: `${keyDir}/other-key.pem` });
    try {
      const res = await idp.post('/console/dev-token', { roles: ['admin'] });
      expect(res.status).toBe(409);
      expect(res.body.detail).toMatch(/identity provider is configured/);
    } finally {
      await idp.close();
    }
  });

  it('production refuses to start with the development sign-in', () => {
    const prod = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/broker',
      HYP_DEFAULT_ENDPOINT: 'https://pay.hyp.co.il/p/',
      SECRETS_PROVIDER: 'vault',
      VAULT_ADDR: 'https://vault.example.com',
      VAULT_TOKEN: 't',
      OPERATOR_JWKS_URI: 'https://idp.example.com/jwks',
      OPERATOR_JWT_ISSUER: 'https://idp.example.com',
    };
    expect(() => validateConfig(prod)).not.toThrow();
    expect(() => validateConfig({ ...prod, CONSOLE_DEV_SIGN_IN: 'true' })).toThrow(/CONSOLE_DEV_SIGN_IN: mints operator tokens/);
  });
});
