import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { AuditSealer } from '../../src/audit/seal/audit-sealer';
import { SealRepository } from '../../src/audit/seal/seal.repository';
import { asOwnerBypassingTriggers } from '../support/audit-seeding';
import { SECOND_TERMINAL, TERMINAL, type BrokerHarness, type TestDevice } from '../support/broker-harness';
import {
  cspViolations,
  devSignIn,
  launchChromium,
  navLinks,
  newPage,
  removeDir,
  seriousViolations,
  shownEventIds,
  startConsoleBroker,
} from './support/console-browser';

/**
 * The operator console in Chromium against a real broker on Postgres, signed in with the
 * embedded mode's development sign-in: roles, every screen (with axe-core), the explorer against
 * the API, export, device actions, integrity, bad input and an API that goes away.
 */
describe('operator console (development sign-in, Chromium)', () => {
  let h: BrokerHarness;
  let keyDir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let device: TestDevice;
  let adminToken: string;
  let auditorToken: string;

  const api = async (path: string, token: string) => {
    const res = await h.send('GET', path, undefined, { authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    return res.body;
  };
  const sealAll = async () => h.app.get(AuditSealer).sealUpTo(await h.app.get(SealRepository).allocatedWatermark());

  beforeAll(async () => {
    ({ h, keyDir } = await startConsoleBroker({ AUDIT_SEAL_INTERVAL_MS: '0' }));
    browser = await launchChromium();
    ({ context, page, problems } = await newPage(browser));
    device = await h.enrollDevice(undefined, [TERMINAL, SECOND_TERMINAL]);
    for (let i = 0; i < 3; i++) expect((await h.issue(device)).status).toBe(201);
    const other = { terminalNumber: SECOND_TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } };
    expect((await h.issue(device, other)).status).toBe(201);
    // Denied: a scope outside the policy.
    expect((await h.issue(device, { terminalNumber: TERMINAL, scope: { command: 'refundDeal' } })).status).toBeGreaterThanOrEqual(400);
    const mint = async (roles: string[]) => (await h.post('/console/dev-token', { roles })).body.accessToken as string;
    adminToken = await mint(['admin']);
    auditorToken = await mint(['auditor']);
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await h?.close().catch(() => undefined);
    removeDir(keyDir);
  });

  afterEach(() => {
    // No CSP refusal, no uncaught error in any test.
    expect(problems).toEqual([]);
  });

  it('an auditor sees the trail screens and no admin action; an admin sees no trail', async () => {
    // A screen the role has no use for sends the operator to one it has.
    await devSignIn(page, `${h.baseUrl}/console/devices`, ['auditor']);
    expect(await navLinks(page)).toEqual(['Audit', 'Activity', 'Integrity']);
    await page.getByRole('heading', { name: 'Audit', level: 1 }).waitFor();
    expect(await page.getByRole('button', { name: /Disable|Revoke|New terminal/ }).count()).toBe(0);

    await devSignIn(page, `${h.baseUrl}/console/audit`, ['admin']);
    expect(await navLinks(page)).toEqual(['Devices', 'Terminals', 'Enrollment']);
    await page.getByRole('heading', { name: 'Devices', level: 1 }).waitFor();
    // The device page has no history for an admin: that is the auditor's trail.
    await devSignIn(page, `${h.baseUrl}/console/devices/${device.deviceId}`, ['admin']);
    await page.getByText('your roles do not include auditor').waitFor();
    expect(await page.getByTestId('event-table').count()).toBe(0);
  });

  it('renders every screen with no serious or critical accessibility violation and no CSP violation', async () => {
    await devSignIn(page, `${h.baseUrl}/console/`, ['admin', 'auditor']);
    const screens: Array<[string, string]> = [
      ['Audit', 'table'],
      ['Activity', 'figure'],
      ['Integrity', 'Verified'],
      ['Devices', 'table'],
      ['Terminals', 'table'],
      ['Enrollment', 'form'],
    ];
    for (const [name, marker] of screens) {
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name }).click();
      await page.getByRole('heading', { name, level: 1 }).waitFor();
      if (marker === 'Verified')
        await page
          .getByText(/Verified|Verification failed/)
          .first()
          .waitFor();
      else await page.locator(marker).first().waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);
      expect({ screen: name, violations: await seriousViolations(page) }).toEqual({ screen: name, violations: [] });
      expect({ screen: name, csp: await cspViolations(page) }).toEqual({ screen: name, csp: [] });
    }
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('link', { name: 'test-pos' }).first().click();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByTestId('event-table').waitFor();
    expect({ screen: 'device', violations: await seriousViolations(page) }).toEqual({ screen: 'device', violations: [] });
    expect({ screen: 'device', csp: await cspViolations(page) }).toEqual({ screen: 'device', csp: [] });
    // The recorder hears a refusal when there is one (on a page of its own): markup styles are refused.
    const probe = await context.newPage();
    await probe.goto(`${h.baseUrl}/console/`);
    await probe.getByRole('heading', { name: 'Sign in' }).waitFor();
    await probe.evaluate(`document.body.insertAdjacentHTML('beforeend', '<p id="csp-probe" style="color: rgb(255, 0, 0)">probe</p>')`);
    await expect(probe.evaluate<string>(`getComputedStyle(document.getElementById('csp-probe')).color`)).resolves.not.toBe('rgb(255, 0, 0)');
    await probe.waitForFunction('window.__cspViolations.length > 0');
    await expect(cspViolations(probe)).resolves.toEqual([expect.stringMatching(/^style-src(-attr)? refused inline at <p>/)]);
    await probe.close();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect({ screen: 'sign-in', violations: await seriousViolations(page) }).toEqual({ screen: 'sign-in', violations: [] });
    expect({ screen: 'sign-in', csp: await cspViolations(page) }).toEqual({ screen: 'sign-in', csp: [] });
  });

  it('filters the explorer through the URL and shows exactly the rows the API returns', async () => {
    await devSignIn(page, `${h.baseUrl}/console/audit`, ['auditor']);
    await page.getByLabel('Terminal').fill(TERMINAL);
    await page.getByLabel('Outcome').selectOption('issued');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/terminalNumber=0882819014/);
    expect(new URL(page.url()).searchParams.get('outcome')).toBe('issued');
    await page.locator('[data-event-id]').first().waitFor();
    const shown = await shownEventIds(page);
    const fromApi = (await api(`/v1/audit/events?terminalNumber=${TERMINAL}&outcome=issued`, auditorToken)) as { events: Array<{ id: string }> };
    expect(shown).toEqual(fromApi.events.map((e) => e.id));
    expect(shown).toHaveLength(3);

    // The same URL opened afresh (a shared link) shows the same view once signed in.
    await devSignIn(page, page.url(), ['auditor']);
    await expect(page.getByLabel('Terminal').inputValue()).resolves.toBe(TERMINAL);
  });

  it('keeps a malformed filter in the form and the URL and shows the API problem', async () => {
    await devSignIn(page, `${h.baseUrl}/console/audit`, ['auditor']);
    await page.getByLabel('From (UTC, ISO-8601)').fill('yesterday');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    await expect(alert.innerText()).resolves.toMatch(/must be an ISO-8601 date-time/);
    await expect(page.getByLabel('From (UTC, ISO-8601)').inputValue()).resolves.toBe('yesterday');
    expect(new URL(page.url()).searchParams.get('from')).toBe('yesterday');
    // A sessionId of the wrong shape: said in the page, never sent.
    await page.getByRole('textbox', { name: 'sessionId' }).fill('not a session id');
    await page.getByRole('button', { name: 'Find session' }).click();
    await page.getByText('A sessionId is 1 to 512 visible characters').waitFor();
    await expect(page.getByRole('textbox', { name: 'sessionId' }).inputValue()).resolves.toBe('not a session id');
  });

  it('finds a session by its pasted sessionId, sent in the body only, leaking it nowhere', async () => {
    const issued = await h.issue(device);
    expect(issued.status).toBe(201);
    const sessionId = issued.body.sessionId as string;
    await devSignIn(page, `${h.baseUrl}/console/audit`, ['auditor']);
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.getByRole('textbox', { name: 'sessionId' }).fill(sessionId);
    await page.getByRole('button', { name: 'Find session' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `on terminal ${TERMINAL}` })
      .waitFor();
    const lookupTable = page.getByRole('table', { name: 'Events of the request that issued the session' });
    await expect(lookupTable.getByText('session.issued').count()).resolves.toBe(1);
    expect(requests.some((u) => u.endsWith('/v1/audit/sessions/lookup'))).toBe(true);
    expect(requests.join('\n')).not.toContain(sessionId);
    expect(page.url()).not.toContain(sessionId);
    await h.expectNoSecretsLeaked();
  });

  it('moves through the explorer by keyboard: rows, the detail drawer, back', async () => {
    await devSignIn(page, `${h.baseUrl}/console/audit?terminalNumber=${TERMINAL}`, ['auditor']);
    await page.locator('[data-event-id]').first().waitFor();
    await page.getByLabel('Request id').focus();
    const focusedName = () => page.evaluate<string>("document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent ?? ''");
    // Tab past the form and the export buttons until the first row's detail button.
    for (let i = 0; i < 12 && !/^Event \d+ at/.test(await focusedName()); i++) await page.keyboard.press('Tab');
    const first = await focusedName();
    expect(first).toMatch(/^Event \d+ at .*show details$/);
    await page.keyboard.press('Tab');
    const second = await focusedName();
    expect(second).toMatch(/^Event \d+ at/);
    expect(second).not.toBe(first);
    await page.keyboard.press('Enter');
    const drawer = page.getByRole('dialog');
    await drawer.waitFor();
    await expect(drawer.getByRole('heading').first().innerText()).resolves.toBe(`Event ${/^Event (\d+)/.exec(second)![1]}`);
    await expect(drawer.getByLabel('Raw JSON of the event').innerText()).resolves.toContain('"requestId"');
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });
    // React Aria hands focus back to the row's button in an animation frame after the drawer goes.
    let back = await focusedName();
    for (let i = 0; i < 20 && back !== second; i++) back = await new Promise((r) => setTimeout(r, 50)).then(focusedName);
    expect(back).toBe(second);
  });

  it('exports the current filter as CSV', async () => {
    await devSignIn(page, `${h.baseUrl}/console/audit?terminalNumber=${TERMINAL}&outcome=issued`, ['auditor']);
    await page.locator('[data-event-id]').first().waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const csv = readFileSync(await download.path(), 'utf8')
      .trim()
      .split(/\r?\n/);
    const fromApi = (await api(`/v1/audit/events?terminalNumber=${TERMINAL}&outcome=issued`, auditorToken)) as { events: Array<{ id: string }> };
    expect(fromApi.events.length).toBeGreaterThanOrEqual(3);
    expect(csv).toHaveLength(1 + fromApi.events.length);
    expect(csv.slice(1).map((line) => line.split(',')[0])).toEqual(fromApi.events.map((e) => e.id));
    expect(csv[0]).toMatch(/occurred_?at/i);
    expect(csv.slice(1).every((line) => line.includes(TERMINAL) && line.includes('issued'))).toBe(true);
  });

  it('charts activity, and a bar opens the explorer filtered to it', async () => {
    await devSignIn(page, `${h.baseUrl}/console/activity`, ['auditor']);
    const bar = page.locator('figure .recharts-bar-rectangle path, figure .recharts-bar-rectangle rect').first();
    await bar.waitFor();
    await bar.click();
    await page.waitForURL(/\/console\/audit\?/);
    const filters = new URL(page.url()).searchParams;
    expect([...filters.keys()].sort()).toEqual(['from', 'outcome', 'to']);
    expect(new Date(filters.get('to')!).getTime() - new Date(filters.get('from')!).getTime()).toBe(3_600_000);
    await page.locator('[data-event-id]').first().waitFor();
    const shown = await shownEventIds(page);
    const fromApi = (await api(`/v1/audit/events?${filters.toString()}`, auditorToken)) as { events: Array<{ id: string; outcome: string }> };
    expect(shown).toEqual(fromApi.events.map((e) => e.id));
    expect(fromApi.events.every((e) => e.outcome === filters.get('outcome'))).toBe(true);
  });

  it('disables a device from its page, and its next session is refused', async () => {
    await devSignIn(page, `${h.baseUrl}/console/devices`, ['admin']);
    await page.getByLabel('Terminal').fill(TERMINAL);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/terminalNumber=/);
    await page.getByRole('link', { name: 'test-pos' }).first().click();
    await page.getByRole('heading', { name: 'Actions' }).waitFor();
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByText('Device disabled').waitFor();
    expect((await h.issue(device)).status).toBe(401);
    const state = (await api(`/v1/admin/devices/${device.deviceId}`, adminToken)) as { status: string };
    expect(state.status).toBe('disabled');
    // Revoke asks first; cancelling changes nothing.
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await page.getByRole('alertdialog').waitFor();
    expect({ dialog: await seriousViolations(page) }).toEqual({ dialog: [] });
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect(((await api(`/v1/admin/devices/${device.deviceId}`, adminToken)) as { status: string }).status).toBe('disabled');
  });

  it('verifies the trail, then reports a tampered row in words', async () => {
    await sealAll();
    await devSignIn(page, `${h.baseUrl}/console/audit`, ['auditor']);
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Integrity' }).click();
    await page.getByText('Verified: the trail is intact.').waitFor();

    const [victim] = await h.db.query<{ id: string }>(`SELECT id FROM audit_event WHERE action = 'session.issued' ORDER BY id LIMIT 1`);
    await asOwnerBypassingTriggers(h.db, 'audit_event', `UPDATE audit_event SET outcome = 'denied' WHERE id = $1`, [victim.id]);
    await page.getByRole('button', { name: 'Run verify' }).click();
    const verdict = page.getByRole('alert');
    await verdict.waitFor();
    const text = await verdict.innerText();
    expect(text).toContain('Verification failed.');
    expect(text).toContain(`The trail was altered: event ${victim.id}`);
    expect(text).toContain('Someone changed it after it was written.');
  });

  it('says the broker is not answering when it goes away, keeping the filter', async () => {
    await devSignIn(page, `${h.baseUrl}/console/audit?terminalNumber=${TERMINAL}`, ['auditor']);
    await page.locator('[data-event-id]').first().waitFor();
    await page.getByLabel('Action').fill('session.issued');
    await h.app.close();
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('alert').filter({ hasText: 'The broker is not answering' }).waitFor();
    await expect(page.getByLabel('Action').inputValue()).resolves.toBe('session.issued');
    await expect(page.getByLabel('Terminal').inputValue()).resolves.toBe(TERMINAL);
  });
});
