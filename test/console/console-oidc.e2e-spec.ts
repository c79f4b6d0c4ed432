import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { BrokerHarness, TERMINAL } from '../support/broker-harness';
import { CONSOLE_DIST, ensureConsoleBuilt, launchChromium, navLinks, newPage, seriousViolations } from './support/console-browser';

const RESOURCE = 'urn:pos-session-broker:operators';

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

  beforeAll(async () => {
    ensureConsoleBuilt();
    const idpPort = await freePort();
    const issuer = `http://127.0.0.1:${idpPort}`;
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

  afterEach(() => expect(problems).toEqual([]));

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
