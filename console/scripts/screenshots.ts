/**
 * `npm run screenshots`: a PNG of each console screen in docs/console/, from a real broker on
 * Postgres with a day of seeded traffic, in Chromium. Run through Jest (it reuses the e2e harness).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AuditSealer } from '../../src/audit/seal/audit-sealer';
import { SealRepository } from '../../src/audit/seal/seal.repository';
import { seedEvents } from '../../test/support/audit-seeding';
import { NO_SESSIONS_TERMINAL, SECOND_TERMINAL, TERMINAL } from '../../test/support/broker-harness';
import { devSignIn, launchChromium, newPage, removeDir, startConsoleBroker } from '../../test/console/support/console-browser';

const OUT = resolve(__dirname, '../../docs/console');

it('writes a screenshot of each console screen to docs/console/', async () => {
  mkdirSync(OUT, { recursive: true });
  const { h, keyDir } = await startConsoleBroker({ AUDIT_SEAL_INTERVAL_MS: '0' });
  const browser = await launchChromium();
  try {
    const pos = await h.enrollDevice(undefined, [TERMINAL, SECOND_TERMINAL]);
    await h.enrollDevice(undefined, [SECOND_TERMINAL]);
    for (let i = 0; i < 4; i++) await h.issue(pos);
    await h.issue(pos, { terminalNumber: SECOND_TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } });
    await h.issue(pos, { terminalNumber: TERMINAL, scope: { command: 'refundDeal' } });
    // A day of traffic, hour by hour, on two terminals, with some failures and denials.
    const dayAgo = new Date(Date.now() - 23 * 3_600_000);
    for (let hour = 0; hour < 23; hour++) {
      const start = new Date(dayAgo.getTime() + hour * 3_600_000);
      const busy = 6 + Math.round(8 * Math.sin((hour / 23) * Math.PI));
      await seedEvents(h.db, busy, { start, stepMs: 120_000, terminal: TERMINAL });
      await seedEvents(h.db, Math.ceil(busy / 2), { start, stepMs: 200_000, terminal: SECOND_TERMINAL });
      if (hour % 4 === 1)
        await seedEvents(h.db, 2, { start, terminal: NO_SESSIONS_TERMINAL, action: 'session.failed', outcome: 'failed', gatewayResult: '457' });
      if (hour % 6 === 3) await seedEvents(h.db, 1, { start, terminal: TERMINAL, action: 'session.denied', outcome: 'denied', gatewayResult: null });
    }
    await h.app.get(AuditSealer).sealUpTo(await h.app.get(SealRepository).allocatedWatermark());

    const { page } = await newPage(browser);
    const shot = async (name: string, fullPage = false) => {
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
    };
    await page.goto(`${h.baseUrl}/console/`);
    await page.getByRole('button', { name: 'Sign in (development)' }).waitFor();
    await shot('sign-in');
    await devSignIn(page, `${h.baseUrl}/console/audit`, ['admin', 'auditor']);
    await page.locator('[data-event-id]').first().waitFor();
    await shot('audit');
    await page.locator('[data-event-id] button').first().click();
    await page.getByRole('dialog').waitFor();
    await shot('audit-detail');
    await page.keyboard.press('Escape');
    const nav = page.getByRole('navigation', { name: 'Console' });
    await nav.getByRole('link', { name: 'Activity' }).click();
    await page.locator('figure .recharts-bar-rectangle').first().waitFor();
    await shot('activity');
    await nav.getByRole('link', { name: 'Integrity' }).click();
    await page.getByText('Verified: the trail is intact.').waitFor();
    await shot('integrity');
    await nav.getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('link', { name: 'test-pos' }).first().waitFor();
    await shot('devices');
    await page.locator(`a[href="/console/devices/${pos.deviceId}"]`).click();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByTestId('event-table').waitFor();
    await shot('device', true);
    await nav.getByRole('link', { name: 'Terminals' }).click();
    await page.locator('table').first().waitFor();
    await shot('terminals');
    await nav.getByRole('link', { name: 'Enrollment' }).click();
    await page.getByRole('textbox', { name: 'Terminals (comma-separated)' }).last().fill(TERMINAL);
    await page.getByRole('textbox', { name: 'Name (store, batch)' }).fill('Store 12 tills');
    await page.getByRole('button', { name: 'Create code' }).click();
    await page.locator('.code-card img').waitFor();
    await shot('enrollment', true);
  } finally {
    await browser.close();
    await h.close();
    removeDir(keyDir);
  }
}, 300_000);
