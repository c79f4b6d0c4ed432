import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureLocalOperatorKey } from '../../../src/operators/local-operator-key';
import { BrokerHarness } from '../../support/broker-harness';

const ROOT = resolve(__dirname, '../../..');
export const CONSOLE_DIST = join(ROOT, 'console', 'dist');

/** Builds console/dist when a source is newer (the same script `npm start` runs). */
export function ensureConsoleBuilt(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'console-build.mjs')], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 240_000 });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A broker that serves the console with development sign-in: it trusts its local operator key
 * (a fresh one per test file), as the embedded mode does.
 */
export async function startConsoleBroker(env: Record<string, string> = {}): Promise<{ h: BrokerHarness; keyDir: string }> {
  ensureConsoleBuilt();
  const keyDir = mkdtempSync(join(tmpdir(), 'psb-console-'));
  const keyFile = join(keyDir, 'operator-key.pem');
  const pub = createPublicKey(ensureLocalOperatorKey(keyFile)).export({ type: 'spki', format: 'pem' }).toString();
  const h = await BrokerHarness.start({
    OPERATOR_LOCAL_KEY_FILE: keyFile,
    OPERATOR_JWT_PUBLIC_KEY: pub,
    CONSOLE_DEV_SIGN_IN: 'true',
    CONSOLE_DIST_DIR: CONSOLE_DIST,
    ...env,
  });
  return { h, keyDir };
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Everything the page reports that a test must not ignore: CSP refusals, uncaught errors. */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text()))
      problems.push(`console: ${m.text()} (${m.location().url}:${m.location().lineNumber}:${m.location().columnNumber})`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

/**
 * Installed before any page script (through the DevTools protocol, which the page's CSP does not
 * govern): every `securitypolicyviolation` the document reports, kept for cspViolations().
 */
const RECORD_CSP_VIOLATIONS = `(() => {
  const seen = (window.__cspViolations = []);
  document.addEventListener('securitypolicyviolation', (e) => {
    const at = e.target instanceof Element ? ' at <' + e.target.localName + (e.target.className ? ' class="' + e.target.className + '"' : '') + '>' : '';
    const from = e.sourceFile ? ' from ' + e.sourceFile.replace(/^.*\\//, '') + ':' + e.lineNumber + ':' + e.columnNumber : '';
    seen.push(e.effectiveDirective + ' refused ' + (e.blockedURI || 'inline') + at + from + ' on ' + location.host + location.pathname);
  });
})();`;

/** The CSP violations the current document has reported so far (each directive and what it refused). */
export async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate<string[]>('window.__cspViolations ?? ["the CSP violation recorder is not installed"]');
}

export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1360, height: 900 } });
  await context.addInitScript(RECORD_CSP_VIOLATIONS);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return { context, page, problems: watchPage(page) };
}

/**
 * Opens `url` (a full page load: the in-memory token is gone, as after any reload) and signs in
 * there with "Sign in (development)" and exactly `roles` ticked; the app stays on `url`.
 */
export async function devSignIn(page: Page, url: string, roles: Array<'admin' | 'auditor'>): Promise<void> {
  await page.goto(url);
  for (const role of ['admin', 'auditor'] as const) {
    const box = page.getByRole('checkbox', { name: role });
    if ((await box.isChecked()) !== roles.includes(role)) await page.getByText(role, { exact: true }).click();
  }
  await page.getByRole('button', { name: 'Sign in (development)' }).click();
  await page.getByRole('navigation', { name: 'Console' }).waitFor();
}

/** The audit event ids of the explorer's rows, top to bottom. */
export async function shownEventIds(page: Page): Promise<string[]> {
  const rows = page.locator('[data-event-id]');
  const ids: string[] = [];
  for (let i = 0, n = await rows.count(); i < n; i++) ids.push((await rows.nth(i).getAttribute('data-event-id')) ?? '');
  return ids;
}

export async function navLinks(page: Page): Promise<string[]> {
  return page.getByRole('navigation', { name: 'Console' }).getByRole('link').allInnerTexts();
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core over the page: the serious and critical violations (each with its first target). */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (rightly) forbids injected inline scripts.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }>(
    "axe.run(document, { resultTypes: ['violations'] })",
  );
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} (${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 3)
          .join(', ')})`,
    );
}
