import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import type { Browser, BrowserContext, Page, Request, Response } from 'playwright-core';
import { BrokerHarness, TERMINAL } from '../support/broker-harness';
import { CONSOLE_DIST, cspViolations, ensureConsoleBuilt, launchChromium, navLinks, newPage, seriousViolations } from './support/console-browser';

const RESOURCE = 'urn:pos-session-broker:operators';

/** When a JWT expires (ms since the epoch), from its `exp` claim. */
function expiryOf(jwt: string): number {
  return (JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as { exp: number }).exp * 1000;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** oidc-provider in a process of its own, until it prints its issuer. */
function startIdp(port: number, brokerUrl: string): Promise<{ child: ChildProcess; issuer: string }> {
  const child = spawn(process.execPath, [join(__dirname, 'support', 'oidc-idp.mjs'), String(port), brokerUrl, RESOURCE], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => reject(new Error(`IdP exited ${code}: ${err}`)));
    child.stdout.once('data', (d: Buffer) => resolve({ child, issuer: (JSON.parse(d.toString()) as { issuer: string }).issuer }));
  });
}

/**
 * Signing in to the console with OpenID Connect (authorization code + PKCE) against a real
 * OpenID provider, through its own login and consent pages in Chromium; the broker trusts the
 * provider's JWKS like in production.
 */
describe('operator console (OpenID Connect sign-in, Chromium)', () => {
  let h: BrokerHarness;
  let idp: ChildProcess | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let issuer: string;

  beforeAll(async () => {
    ensureConsoleBuilt();
    const idpPort = await freePort();
    issuer = `http://127.0.0.1:${idpPort}`;
    h = await BrokerHarness.start({
      CONSOLE_DIST_DIR: CONSOLE_DIST,
      CONSOLE_OIDC_CLIENT_ID: 'pos-console',
      CONSOLE_OIDC_SCOPES: 'openid profile broker',
      OPERATOR_JWT_PUBLIC_KEY: '',
      OPERATOR_JWKS_URI: `${issuer}/jwks`,
      OPERATOR_JWT_ISSUER: issuer,
      OPERATOR_JWT_AUDIENCE: RESOURCE,
      OPERATOR_JWT_CLOCK_SKEW_SECONDS: '0',
    });
    ({ child: idp } = await startIdp(idpPort, h.baseUrl));
    browser = await launchChromium();
    ({ context, page, problems } = await newPage(browser));
    await h.enrollDevice();
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    idp?.kill();
    await h?.close();
  });

  afterEach(async () => {
    expect(await cspViolations(page)).toEqual([]);
    expect(problems).toEqual([]);
  });

  /** From the console's sign-in page through the provider's login and consent pages, back to `url`. */
  async function oidcSignIn(url: string, login: string): Promise<void> {
    await page.goto(url);
    await page.getByRole('button', { name: 'Sign in with your identity provider' }).click();
    await page.waitForURL((u) => u.origin !== new URL(h.baseUrl).origin);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any');
    await page.locator('button[type="submit"]').click();
    // Consent (first time for this account): "Continue".
    const consent = page.locator('button[type="submit"]');
    await page.waitForURL((u) => u.origin === new URL(h.baseUrl).origin || u.pathname.includes('interaction'));
    if (new URL(page.url()).origin !== new URL(h.baseUrl).origin) await consent.click();
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
  }

  it('signs an auditor in with code + PKCE and back to the page they asked for; the token stays in memory', async () => {
    await oidcSignIn(`${h.baseUrl}/console/audit?terminalNumber=${TERMINAL}`, 'alice-auditor');
    expect(new URL(page.url()).pathname).toBe('/console/audit');
    expect(new URL(page.url()).searchParams.get('terminalNumber')).toBe(TERMINAL);
    expect(await navLinks(page)).toEqual(['Audit', 'Activity', 'Integrity']);
    await page.getByText('alice-auditor · auditor').waitFor();
    await page.getByRole('heading', { name: 'Events, newest first' }).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    const stored = await page.evaluate<string>('JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])');
    expect(stored).not.toMatch(/eyJ/); // no JWT in web storage
    // The read went through the API under the provider's subject and was audited.
    const reads = await h.db.query<{ actor_id: string }>(`SELECT actor_id FROM audit_event WHERE action LIKE 'audit.%' AND actor_id = 'alice-auditor'`);
    expect(reads.length).toBeGreaterThan(0);
    expect({ violations: await seriousViolations(page) }).toEqual({ violations: [] });
  });

  it('an admin from the provider sees the admin screens only', async () => {
    await context.clearCookies();
    await oidcSignIn(`${h.baseUrl}/console/`, 'bob-admin');
    expect(await navLinks(page)).toEqual(['Devices', 'Terminals', 'Enrollment']);
    await page.getByRole('heading', { name: 'Devices', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'test-pos' }).first().waitFor();
  });

  it('says when the token has expired mid-session, keeping the filter in the form', async () => {
    await context.clearCookies();
    await oidcSignIn(`${h.baseUrl}/console/audit`, 'short-auditor');
    await page.getByRole('heading', { name: 'Events, newest first' }).waitFor();
    await page.getByLabel('Terminal').fill(TERMINAL);
    await new Promise((r) => setTimeout(r, 6_000));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'Your sign-in is no longer accepted' });
    await refused.waitFor();
    await expect(refused.innerText()).resolves.toMatch(/Unauthorized|Authentication/i);
    await expect(page.getByLabel('Terminal').inputValue()).resolves.toBe(TERMINAL);
    expect(new URL(page.url()).searchParams.get('terminalNumber')).toBe(TERMINAL);
    await page.getByRole('button', { name: 'Sign in again' }).waitFor();
  });

  it('renews the token before it runs out: the console keeps working past the first token, the API sees the new one', async () => {
    await context.clearCookies();
    const bearers: string[] = [];
    const refreshGrants: number[] = [];
    const refreshTokens: string[] = [];
    const refusals: string[] = [];
    const onRequest = (req: Request) => {
      const auth = req.headers()['authorization'];
      if (new URL(req.url()).pathname.startsWith('/v1/') && auth) bearers.push(auth.replace(/^Bearer /, ''));
      if (req.url().startsWith(issuer) && req.method() === 'POST' && /grant_type=refresh_token/.test(req.postData() ?? '')) refreshGrants.push(Date.now());
    };
    const onResponse = async (res: Response) => {
      if (new URL(res.url()).pathname.startsWith('/v1/') && res.status() === 401) refusals.push(res.url());
      if (res.url().startsWith(issuer) && res.request().method() === 'POST' && res.ok()) {
        const body = (await res.json().catch(() => ({}))) as { refresh_token?: string };
        if (body.refresh_token) refreshTokens.push(body.refresh_token);
      }
    };
    page.on('request', onRequest);
    page.on('response', onResponse);
    try {
      await oidcSignIn(`${h.baseUrl}/console/audit`, 'renew-auditor');
      await page.getByRole('heading', { name: 'Events, newest first' }).waitFor();
      const first = bearers[0];
      const firstExp = expiryOf(first);
      expect(firstExp - Date.now()).toBeLessThanOrEqual(5_000);
      // Past the first token's life (5 s): the console must be holding a renewed one by now.
      await new Promise((r) => setTimeout(r, Math.max(0, firstExp - Date.now()) + 1_500));
      await page.getByLabel('Terminal').fill(TERMINAL);
      const filtered = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/audit/events' && r.url().includes(`terminalNumber=${TERMINAL}`));
      await page.getByRole('button', { name: 'Apply filters' }).click();
      expect((await filtered).status()).toBe(200);
      await page.locator('[data-event-id]').or(page.getByText('No event matches these filters.')).first().waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);
      expect(refusals).toEqual([]);
      expect(refreshGrants.length).toBeGreaterThan(0);
      expect(refreshGrants[0]).toBeLessThan(firstExp); // before it ran out, not after a refusal
      const last = bearers[bearers.length - 1];
      expect(last).not.toBe(first);
      expect(expiryOf(last)).toBeGreaterThan(firstExp);
      // The API accepted the filtered read after the first token had expired, under the same subject.
      const reads = await h.db.query<{ n: string }>(
        `SELECT count(*) AS n FROM audit_event WHERE action = 'audit.events.listed' AND actor_id = 'renew-auditor' AND occurred_at > $1`,
        [new Date(firstExp)],
      );
      expect(Number(reads[0].n)).toBeGreaterThan(0);
      // Neither token is kept in web storage.
      const stored = await page.evaluate<string>('JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])');
      expect(refreshTokens.length).toBeGreaterThan(0);
      for (const secret of [first, last, ...refreshTokens]) expect(stored).not.toContain(secret);
    } finally {
      page.off('request', onRequest);
      page.off('response', onResponse);
    }
  });

  it('says when the token has expired mid-session, keeping what was typed in a form', async () => {
    await context.clearCookies();
    await oidcSignIn(`${h.baseUrl}/console/enrollment`, 'short-admin');
    await page.getByRole('heading', { name: 'Enrollment', level: 1 }).waitFor();
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    await page.getByRole('textbox', { name: 'Device name' }).fill('till-9');
    await page.getByRole('textbox', { name: 'Terminals (comma-separated)' }).first().fill(TERMINAL);
    await page.getByRole('textbox', { name: /^Public key/ }).fill(pem);
    await new Promise((r) => setTimeout(r, 6_000));
    await page.getByRole('button', { name: 'Enroll device' }).click();
    await page.getByRole('alert').filter({ hasText: 'Your sign-in is no longer accepted' }).waitFor();
    await expect(page.getByRole('textbox', { name: 'Device name' }).inputValue()).resolves.toBe('till-9');
    await expect(page.getByRole('textbox', { name: 'Terminals (comma-separated)' }).first().inputValue()).resolves.toBe(TERMINAL);
    await expect(page.getByRole('textbox', { name: /^Public key/ }).inputValue()).resolves.toBe(pem);
    await page.getByRole('button', { name: 'Sign in again' }).waitFor();
    // Nothing was enrolled with the refused token.
    expect(await h.db.query(`SELECT 1 FROM device WHERE name = 'till-9'`)).toEqual([]);
  });

  it('signs out at the provider too', async () => {
    await context.clearCookies();
    await oidcSignIn(`${h.baseUrl}/console/`, 'carol-both');
    await page.getByRole('button', { name: 'Sign out' }).click();
    // The provider's end-session page asks to confirm, then returns to the console.
    await page.waitForURL((u) => u.origin !== new URL(h.baseUrl).origin);
    await page.locator('button[autofocus], button[type="submit"]').first().click();
    await page.waitForURL(`${h.baseUrl}/console/`);
    await page.getByRole('button', { name: 'Sign in with your identity provider' }).waitFor();
    // Signing in again needs the login page: the provider's session ended.
    await page.getByRole('button', { name: 'Sign in with your identity provider' }).click();
    await page.locator('input[name="login"]').waitFor();
  });
});
