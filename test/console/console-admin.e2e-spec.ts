import { generateKeyPairSync, randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sign } from 'jsonwebtoken';
import { AUDIENCE, TERMINAL, type BrokerHarness } from '../support/broker-harness';
import { DeviceEnrollment } from '../../src/devices/device-enrollment';
import { cspViolations, devSignIn, launchChromium, newPage, removeDir, seriousViolations, startConsoleBroker } from './support/console-browser';

/** The admin screens in Chromium: terminals (create, edit, disable, enable), enrollment by key and by one-time code. */
describe('operator console admin screens (Chromium)', () => {
  let h: BrokerHarness;
  let keyDir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let adminToken: string;

  const get = async (path: string) => (await h.send('GET', path, undefined, { authorization: `Bearer ${adminToken}` })).body;

  beforeAll(async () => {
    ({ h, keyDir } = await startConsoleBroker());
    browser = await launchChromium();
    ({ context, page, problems } = await newPage(browser));
    adminToken = (await h.post('/console/dev-token', { roles: ['admin'] })).body.accessToken as string;
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await h?.close();
    removeDir(keyDir);
  });

  afterEach(() => expect(problems).toEqual([]));

  /** The device ids of the Devices table's rows, top to bottom. */
  const shownDeviceIds = async (): Promise<string[]> => {
    const rows = page.locator('[data-device-id]');
    const ids: string[] = [];
    for (let i = 0, n = await rows.count(); i < n; i++) ids.push((await rows.nth(i).getAttribute('data-device-id')) ?? '');
    return ids;
  };

  it('creates a terminal, keeps the form and shows the problem when the API refuses it, edits and disables it', async () => {
    await devSignIn(page, `${h.baseUrl}/console/terminals`, ['admin']);
    await page.getByRole('button', { name: 'New terminal' }).click();
    await page.getByRole('textbox', { name: 'Terminal number' }).fill('0882819099');
    await page.getByRole('textbox', { name: 'Label' }).fill('Front desk');
    await page.getByRole('textbox', { name: 'Endpoint URL' }).fill('ftp://not-a-gateway');
    await page.getByRole('textbox', { name: 'Credential reference' }).fill('hyp/0882819099');
    expect({ form: await seriousViolations(page) }).toEqual({ form: [] });
    await page.getByRole('button', { name: 'Save terminal' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    await expect(alert.innerText()).resolves.toMatch(/endpointUrl: must be an http\(s\) URL/);
    await expect(page.getByRole('textbox', { name: 'Label' }).inputValue()).resolves.toBe('Front desk');

    await page.getByRole('textbox', { name: 'Endpoint URL' }).fill('https://pay.hyp.co.il/p/');
    await page.getByRole('button', { name: 'Save terminal' }).click();
    await page.getByText('Terminal 0882819099 created.').waitFor();
    const created = (await get('/v1/admin/terminals/0882819099')) as { label: string; enabled: boolean; credentialRef: string };
    expect(created).toMatchObject({ label: 'Front desk', enabled: true, credentialRef: 'hyp/0882819099' });

    await page.getByRole('button', { name: 'Edit terminal 0882819099' }).click();
    await page.getByRole('textbox', { name: 'Label' }).fill('Front desk 2');
    await page.getByRole('button', { name: 'Save terminal' }).click();
    await page.getByText('Terminal 0882819099 saved.').waitFor();
    expect(((await get('/v1/admin/terminals/0882819099')) as { label: string }).label).toBe('Front desk 2');

    await page.getByRole('button', { name: 'Disable terminal 0882819099' }).click();
    await page.getByText('Terminal 0882819099 disabled.').waitFor();
    expect(((await get('/v1/admin/terminals/0882819099')) as { enabled: boolean }).enabled).toBe(false);
    await page.getByRole('button', { name: 'Enable terminal 0882819099' }).click();
    await page.getByText('Terminal 0882819099 enabled.').waitFor();
    expect(((await get('/v1/admin/terminals/0882819099')) as { enabled: boolean }).enabled).toBe(true);
  });

  it('enrolls a device by its pasted public key, which then gets a session', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await devSignIn(page, `${h.baseUrl}/console/enrollment`, ['admin']);
    await page.getByRole('textbox', { name: 'Device name' }).fill('till-7');
    await page.getByRole('textbox', { name: 'Terminals (comma-separated)' }).first().fill(TERMINAL);
    await page.getByRole('textbox', { name: /^Public key/ }).fill('{ not json');
    await page.getByRole('button', { name: 'Enroll device' }).click();
    await page.getByRole('alert').filter({ hasText: 'The key is not JSON' }).waitFor();
    await expect(page.getByRole('textbox', { name: 'Device name' }).inputValue()).resolves.toBe('till-7');

    await page.getByRole('textbox', { name: /^Public key/ }).fill(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    await page
      .getByRole('textbox', { name: /^Policy/ })
      .fill('{"allowUnscoped": false, "allowed": [{"command": "doDeal", "validation": "AutoComm", "transactionType": "Credit"}]}');
    await page.getByRole('button', { name: 'Enroll device' }).click();
    const status = page.getByRole('status').filter({ hasText: 'Enrolled: device' });
    await status.waitFor();
    const deviceId = /device ([0-9a-f-]{36})/.exec(await status.innerText())![1];
    const device = (await get(`/v1/admin/devices/${deviceId}`)) as { name: string; keys: Array<{ id: string }> };
    expect(device.name).toBe('till-7');
    const keyId = device.keys[0].id;
    const jwt = sign({ jti: randomUUID() }, privateKey, { algorithm: 'ES256', keyid: keyId, subject: deviceId, audience: AUDIENCE, expiresIn: 60 });
    const res = await h.post(
      '/v1/sessions',
      { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } },
      { authorization: `Bearer ${jwt}` },
    );
    expect(res.status).toBe(201);
  });

  it("edits a device's bindings and rotates its key from the device page", async () => {
    const device = await h.enrollDevice();
    await devSignIn(page, `${h.baseUrl}/console/devices/${device.deviceId}`, ['admin']);
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    await page.getByRole('textbox', { name: 'Bound terminals (comma-separated)' }).fill(`${TERMINAL}, 0882819015`);
    await page.getByRole('button', { name: 'Save policy and bindings' }).click();
    await page.getByText('Policy and bindings saved.').waitFor();
    expect(((await get(`/v1/admin/devices/${device.deviceId}`)) as { terminalNumbers: string[] }).terminalNumbers.sort()).toEqual([TERMINAL, '0882819015']);

    await page.getByRole('textbox', { name: 'Bound terminals (comma-separated)' }).fill('12');
    await page.getByRole('button', { name: 'Save policy and bindings' }).click();
    await page.getByRole('alert').filter({ hasText: 'must be exactly 10 digits' }).waitFor();
    await expect(page.getByRole('textbox', { name: 'Bound terminals (comma-separated)' }).inputValue()).resolves.toBe('12');

    const { publicKey } = generateKeyPairSync('ed25519');
    await page.getByRole('textbox', { name: 'New public key (JWK or SPKI PEM)' }).fill(JSON.stringify(publicKey.export({ format: 'jwk' })));
    await page.getByRole('button', { name: 'Rotate key' }).click();
    await page.getByText('Key rotated.').waitFor();
    const keys = ((await get(`/v1/admin/devices/${device.deviceId}`)) as { keys: Array<{ id: string; alg: string }> }).keys;
    expect(keys.map((k) => k.alg)).toEqual(['EdDSA', 'ES256']);
    await page.getByRole('cell', { name: keys[0].id }).waitFor();
  });

  it('pages the fleet with "Load more devices", the filter kept in the URL: each device once, in the API\'s order', async () => {
    const enroll = (name: string) =>
      h.app.get(DeviceEnrollment).enroll(
        {
          name,
          publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
          terminalNumbers: [TERMINAL],
          policy: null,
        },
        { type: 'operator', id: 'test' },
        { requestId: `test-${randomUUID().slice(0, 8)}` },
      );
    for (let i = 0; i < 30; i++) await enroll(`fleet-${String(i).padStart(2, '0')}`);
    await enroll('elsewhere');
    const fromApi = ((await get('/v1/admin/devices?name=fleet&status=active&limit=100')) as { items: Array<{ id: string }> }).items.map((d) => d.id);
    expect(fromApi).toHaveLength(30);

    await devSignIn(page, `${h.baseUrl}/console/devices`, ['admin']);
    await page.getByRole('textbox', { name: 'Name contains' }).fill('fleet');
    await page.getByLabel('Status').selectOption('active');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('Showing 25 of 30 devices').waitFor();
    const url = new URL(page.url());
    expect([url.pathname, url.searchParams.get('name'), url.searchParams.get('status')]).toEqual(['/console/devices', 'fleet', 'active']);
    expect(await shownDeviceIds()).toEqual(fromApi.slice(0, 25));
    await page.getByRole('button', { name: 'Load more devices' }).click();
    await page.getByText('Showing 30 of 30 devices (all of them)').waitFor();
    expect(await shownDeviceIds()).toEqual(fromApi);
    expect(await page.getByRole('button', { name: 'Load more devices' }).count()).toBe(0);
    expect({ devices: await seriousViolations(page) }).toEqual({ devices: [] });
    expect({ devices: await cspViolations(page) }).toEqual({ devices: [] });

    // The shared link opens the same filtered view, form filled in.
    await devSignIn(page, url.toString(), ['admin']);
    await page.getByText('Showing 25 of 30 devices').waitFor();
    await expect(page.getByRole('textbox', { name: 'Name contains' }).inputValue()).resolves.toBe('fleet');
    await expect(page.getByLabel('Status').inputValue()).resolves.toBe('active');
  });

  it('creates a one-time enrollment code and shows it with its QR and expiry', async () => {
    await devSignIn(page, `${h.baseUrl}/console/enrollment`, ['admin']);
    await page.getByRole('textbox', { name: 'Name (store, batch)' }).fill('Store 12');
    await page.getByRole('textbox', { name: 'Terminals (comma-separated)' }).last().fill(TERMINAL);
    await page.getByRole('button', { name: 'Create code' }).click();
    const qr = page.getByRole('img', { name: /QR code that opens the enrollment link/ });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const card = await page.locator('.code-card').innerText();
    expect(card).toMatch(/expires \d{4}-\d{2}-\d{2} /);
    const listed = (await get('/v1/admin/enrollment-codes')) as { items: Array<{ name: string; status: string }> };
    expect(listed.items).toEqual([expect.objectContaining({ name: 'Store 12', status: 'pending' })]);
    await page.getByRole('table').filter({ hasText: 'Store 12' }).waitFor();
    expect({ enrollment: await seriousViolations(page) }).toEqual({ enrollment: [] });
  });
});
