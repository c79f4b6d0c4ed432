import { addTerminalFromCli } from '../src/admin/cli-commands';
import {
  BrokerHarness,
  EMBEDDED_TERMINAL,
  PARENT_SYSTEM_ID,
  PAYROC_PROCESSING_TERMINAL_ID,
  PAYROC_TERMINAL,
  TERMINAL,
  WALLET_IDS,
  WALLET_TERMINAL,
  type HttpResult,
  type TestDevice,
} from './support/broker-harness';

const NEW = '0882819100';
const base = { terminalNumber: NEW, label: 'Store 7 - lane 1', endpointUrl: 'https://gw.example/xpo/Relay', credentialRef: `hyp/${NEW}` };

describe('admin API: terminals', () => {
  let h: BrokerHarness;
  let admin: (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown) => Promise<HttpResult>;

  beforeAll(async () => {
    h = await BrokerHarness.start();
    admin = (method, path, body) => h.send(method, path, body, { authorization: `Bearer ${h.operatorToken(['admin'], { subject: 'alice@example.com' })}` });
  });

  afterAll(async () => {
    await h?.expectNoSecretsLeaked();
    await h?.close();
  });

  const events = (res: HttpResult) => h.auditEvents(String(res.headers['x-request-id']));

  it('creates a terminal, records who did it, and refuses the same number again (409)', async () => {
    const res = await admin('POST', '/v1/admin/terminals', base);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ ...base, provider: 'hyp', enabled: true, defaultPolicy: { allowUnscoped: false, allowed: [] } });
    const [event] = await events(res);
    expect([event.action, event.outcome, event.actor_id, event.terminal_number]).toEqual(['terminal.created', 'success', 'alice@example.com', NEW]);
    expect(event.details).toMatchObject({ before: null, after: { label: base.label, credentialRef: base.credentialRef, enabled: true } });

    const again = await admin('POST', '/v1/admin/terminals', { ...base, label: 'other' });
    expect(again.status).toBe(409);
    expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it.each([
    ['a password', { ...base, terminalNumber: '0882819101', password: 'hunter2' }, 'password'],
    ['a 9-digit number', { ...base, terminalNumber: '088281910' }, 'terminalNumber'],
    ['no credential reference', { ...base, terminalNumber: '0882819101', credentialRef: undefined }, 'credentialRef'],
    ['a credential reference that climbs out', { ...base, terminalNumber: '0882819101', credentialRef: '../../etc/passwd' }, 'credentialRef'],
    ['a non-http endpoint', { ...base, terminalNumber: '0882819101', endpointUrl: 'ftp://gw.example/' }, 'endpointUrl'],
    ['an unknown provider', { ...base, terminalNumber: '0882819101', provider: 'nope' }, 'provider'],
    ['an undocumented scope command', { ...base, terminalNumber: '0882819101', defaultPolicy: { allowed: [{ command: 'rm -rf' }] } }, 'defaultPolicy'],
    ['an empty label', { ...base, terminalNumber: '0882819101', label: ' ' }, 'label'],
  ])('refuses %s (400) and stores nothing', async (_what, body, field) => {
    const res = await admin('POST', '/v1/admin/terminals', body);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(res.body.errors)).toContain(field);
    expect(await h.db.query(`SELECT 1 FROM terminal WHERE terminal_number = '0882819101'`)).toEqual([]);
  });

  it('never stores nor returns a password: the credential stays in the secret store', async () => {
    const rows = await h.db.query<Record<string, unknown>>(`SELECT * FROM terminal`);
    expect(JSON.stringify(rows)).not.toContain(h.password);
    const list = await admin('GET', '/v1/admin/terminals?limit=100');
    expect(list.text).not.toContain(h.password);
    expect(list.text).not.toMatch(/password/i);
  });

  it('lists terminals by number, paginated and filtered', async () => {
    const [{ count, hyp }] = await h.db.query<{ count: number; hyp: number }>(
      `SELECT count(*)::int AS count, (count(*) FILTER (WHERE provider = 'hyp'))::int AS hyp FROM terminal`,
    );
    expect(count).toBeGreaterThanOrEqual(4);
    const all = await admin('GET', '/v1/admin/terminals');
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(count);
    const numbers = (r: HttpResult) => (r.body.items as Array<{ terminalNumber: string }>).map((t) => t.terminalNumber);
    expect(numbers(all)).toEqual([...numbers(all)].sort());

    const page1 = await admin('GET', '/v1/admin/terminals?limit=3');
    const page2 = await admin('GET', '/v1/admin/terminals?limit=3&offset=3');
    expect(numbers(page1)).toHaveLength(3);
    expect([...numbers(page1), ...numbers(page2)]).toEqual(numbers(all).slice(0, 6));
    expect(page2.body).toMatchObject({ total: count, limit: 3, offset: 3 });

    expect(numbers(await admin('GET', '/v1/admin/terminals?label=STORE%207'))).toEqual([NEW]);
    expect(numbers(await admin('GET', '/v1/admin/terminals?provider=hyp&enabled=true&limit=100'))).toHaveLength(hyp);
    expect(numbers(await admin('GET', '/v1/admin/terminals?enabled=false'))).toEqual([]);
  });

  it.each([['limit=101'], ['limit=0'], ['offset=-1'], ['enabled=maybe'], ['colour=blue']])('refuses the query %s (400)', async (q) => {
    expect((await admin('GET', `/v1/admin/terminals?${q}`)).status).toBe(400);
  });

  it('gets one terminal; 404 for an unknown number, 400 for a malformed one', async () => {
    expect((await admin('GET', `/v1/admin/terminals/${NEW}`)).body.label).toBe(base.label);
    const unknown = await admin('GET', '/v1/admin/terminals/0000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await admin('GET', '/v1/admin/terminals/12ab')).status).toBe(400);
  });

  it('updates a terminal, recording only what changed', async () => {
    const res = await admin('PATCH', `/v1/admin/terminals/${NEW}`, { label: 'Store 7 - lane 2', endpointUrl: base.endpointUrl });
    expect(res.status).toBe(200);
    expect(res.body.label).toBe('Store 7 - lane 2');
    const [event] = await events(res);
    expect(event.action).toBe('terminal.updated');
    expect(event.details).toEqual({ terminalNumber: NEW, before: { label: base.label }, after: { label: 'Store 7 - lane 2' } });
  });

  it.each([
    ['nothing to change', {}],
    ['a new number', { terminalNumber: '0882819199' }],
    ['a password', { password: 'x' }],
    ['enabled as a string', { enabled: 'yes' }],
  ])('refuses an update with %s (400)', async (_what, body) => {
    expect((await admin('PATCH', `/v1/admin/terminals/${NEW}`, body)).status).toBe(400);
  });

  it('answers 404 when updating or disabling an unknown terminal', async () => {
    expect((await admin('PATCH', '/v1/admin/terminals/0000000000', { label: 'x' })).status).toBe(404);
    expect((await admin('POST', '/v1/admin/terminals/0000000000/disable')).status).toBe(404);
  });

  it('disabling a terminal stops its sessions at once; enabling brings them back', async () => {
    const device = await h.enrollDevice();
    expect((await h.issue(device)).status).toBe(201);
    const disabled = await admin('POST', `/v1/admin/terminals/${TERMINAL}/disable`);
    expect(disabled.status).toBe(200);
    expect(disabled.body.enabled).toBe(false);
    expect((await events(disabled)).map((e) => [e.action, e.details])).toEqual([
      ['terminal.disabled', { terminalNumber: TERMINAL, before: { enabled: true }, after: { enabled: false } }],
    ]);
    const refused = await h.issue(device);
    expect(refused.status).toBe(403);
    expect((await admin('POST', `/v1/admin/terminals/${TERMINAL}/enable`)).status).toBe(200);
    expect((await h.issue(device)).status).toBe(201);
  });

  it("applies the terminal's default policy to devices without a policy of their own", async () => {
    const device = await h.enrollDevice(null as never);
    const scope = { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' };
    const before = await h.issue(device, { terminalNumber: TERMINAL, scope });
    expect(before.status).toBe(403);
    const patched = await admin('PATCH', `/v1/admin/terminals/${TERMINAL}`, { defaultPolicy: { allowed: [{ command: 'dodeal' }] } });
    expect(patched.status).toBe(200);
    expect(patched.body.defaultPolicy).toEqual({ allowUnscoped: false, allowed: [{ command: 'doDeal' }] });
    expect((await h.issue(device, { terminalNumber: TERMINAL, scope })).status).toBe(201);
    // A device with its own policy keeps it.
    const own = await h.enrollDevice({ allowUnscoped: false, allowed: [] });
    expect((await h.issue(own, { terminalNumber: TERMINAL, scope })).status).toBe(403);
  });
  /**
   * Issue 15 §3: Payroc, embedded-component and wallet terminals configured through the API (no
   * SQL): providerConfig validated by the provider's own schema, never a secret, audited with
   * its change, and read by the next session at once.
   */
  describe('providerConfig', () => {
    const PAYROC = '0882819130';
    const EMBEDDED = '0882819131';
    const WALLET = '0882819132';
    const LIB = '1.6.0.172441';
    const POLICY = {
      allowUnscoped: false,
      allowed: [],
      providers: { payroc: { libVersions: [LIB] }, 'embedded-components': { gateway: true, 'merchant-central': true }, wallet: { walletIds: [...WALLET_IDS] } },
    };
    // The credentials are the seeded terminals' entries in the secret store: only their path is given.
    const payrocBody = () => ({
      terminalNumber: PAYROC,
      label: 'Payroc lane',
      provider: 'payroc',
      endpointUrl: h.payroc.apiUrl,
      credentialRef: `payroc/${PAYROC_TERMINAL}`,
      providerConfig: { processingTerminalId: PAYROC_PROCESSING_TERMINAL_ID, identityUrl: h.payroc.identityUrl },
    });
    const embeddedBody = () => ({
      terminalNumber: EMBEDDED,
      label: 'Reporting lane',
      provider: 'embedded-components',
      endpointUrl: h.embeddedUrl,
      credentialRef: `embedded-components/${EMBEDDED_TERMINAL}`,
      providerConfig: { apis: ['gateway'] },
    });
    const walletBody = () => ({
      terminalNumber: WALLET,
      label: 'Wallet lane',
      provider: 'wallet',
      endpointUrl: h.walletUrl,
      credentialRef: `wallet/${WALLET_TERMINAL}`,
      providerConfig: { parentSystemId: PARENT_SYSTEM_ID, walletIds: [WALLET_IDS[1]] },
    });
    let device: TestDevice;
    const issue = (terminalNumber: string, scope: object) => h.post('/v1/sessions', { terminalNumber, scope }, { authorization: `Bearer ${device.jwt()}` });
    const storedConfig = async (n: string) =>
      (await h.db.query<{ provider_config: unknown }>('SELECT provider_config FROM terminal WHERE terminal_number = $1', [n]))[0]?.provider_config;
    const problem = (res: HttpResult) => {
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      return res.body.errors as Array<{ path: string; message: string }>;
    };

    it('creates a Payroc, an embedded-components and a wallet terminal through the API, and issues a session for each', async () => {
      for (const body of [payrocBody(), embeddedBody(), walletBody()]) {
        const res = await admin('POST', '/v1/admin/terminals', body);
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({ provider: body.provider, providerConfig: body.providerConfig });
        const [event] = await events(res);
        expect(event.action).toBe('terminal.created');
        expect(event.details).toMatchObject({ before: null, after: { provider: body.provider, providerConfig: body.providerConfig } });
      }
      // What is stored is what the provider's schema made of it, and what the hot path will read.
      expect(await storedConfig(PAYROC)).toEqual({ processingTerminalId: PAYROC_PROCESSING_TERMINAL_ID, identityUrl: h.payroc.identityUrl });

      device = await h.enrollDevice(POLICY, [PAYROC, EMBEDDED, WALLET]);
      const payroc = await issue(PAYROC, { libVersion: LIB });
      expect([payroc.status, payroc.body.provider]).toEqual([201, 'payroc']);
      expect(h.payroc.isLiveSession(String(payroc.body.sessionId))).toBe(true);
      const embedded = await issue(EMBEDDED, { gateway: true });
      expect([embedded.status, embedded.body.provider]).toEqual([201, 'embedded-components']);
      expect(h.embedded.sessionAccount(String(embedded.body.sessionId))).toBe('gateway');
      const wallet = await issue(WALLET, { walletId: WALLET_IDS[1] });
      expect([wallet.status, wallet.body.provider]).toEqual([201, 'wallet']);
      expect(h.wallet.sessionStatus(String(wallet.body.sessionId))).toBe('OPEN');
    });

    it('GET shows the provider configuration (in the list too)', async () => {
      const one = await admin('GET', `/v1/admin/terminals/${WALLET}`);
      expect(one.body.providerConfig).toEqual(walletBody().providerConfig);
      const list = await admin('GET', '/v1/admin/terminals?provider=payroc');
      expect((list.body.items as Array<{ terminalNumber: string; providerConfig: unknown }>).find((t) => t.terminalNumber === PAYROC)?.providerConfig).toEqual(
        payrocBody().providerConfig,
      );
      expect((await admin('GET', `/v1/admin/terminals/${NEW}`)).body.providerConfig).toEqual({});
    });

    it.each([
      [
        'a malformed processing terminal id',
        { processingTerminalId: 'a b', identityUrl: 'https://id.example/authorize' },
        'providerConfig.processingTerminalId',
      ],
      ['no identity URL', { processingTerminalId: '1234001' }, 'providerConfig.identityUrl'],
      ['no configuration at all', undefined, 'providerConfig.processingTerminalId'],
      ['a field Payroc does not know', { processingTerminalId: '1234001', identityUrl: 'https://id.example/authorize', region: 'eu' }, 'providerConfig'],
      ['an array', [], 'providerConfig'],
    ])('refuses a Payroc terminal with %s (400 naming the field) and stores nothing', async (_what, providerConfig, field) => {
      const res = await admin('POST', '/v1/admin/terminals', { ...payrocBody(), terminalNumber: '0882819139', providerConfig });
      expect(problem(res).map((e) => e.path)).toContain(field);
      expect(await storedConfig('0882819139')).toBeUndefined();
    });

    it('refuses a wallet id list that is empty, and an embedded API that does not exist, naming the field', async () => {
      const wallet = await admin('POST', '/v1/admin/terminals', {
        ...walletBody(),
        terminalNumber: '0882819139',
        providerConfig: { parentSystemId: PARENT_SYSTEM_ID, walletIds: [] },
      });
      expect(problem(wallet).map((e) => e.path)).toContain('providerConfig.walletIds');
      const embedded = await admin('PATCH', `/v1/admin/terminals/${EMBEDDED}`, { providerConfig: { apis: ['reporting'] } });
      expect(problem(embedded).map((e) => e.path)).toContain('providerConfig.apis.0');
      expect(await storedConfig(EMBEDDED)).toEqual({ apis: ['gateway'] });
    });

    it.each([
      ['password', { password: 'pw-in-config-1' }],
      ['apiKey', { apiKey: 'pk-in-config-2' }],
      ['clientSecret', { clientSecret: 'cs-in-config-3' }],
      ['nested.authToken', { nested: { authToken: 'at-in-config-4' } }],
      ['signing_key', { signing_key: 'sk-in-config-5' }],
    ])('refuses a secret-looking key (%s): 400 naming it, the value nowhere', async (key, extra) => {
      const secret = JSON.stringify(extra).match(/"([a-z]{2}-in-config-\d)"/)![1];
      h.secretsSeen.add(secret);
      const created = await admin('POST', '/v1/admin/terminals', {
        ...payrocBody(),
        terminalNumber: '0882819139',
        providerConfig: { ...payrocBody().providerConfig, ...extra },
      });
      const errors = problem(created);
      expect(errors).toContainEqual({ path: `providerConfig.${key}`, message: expect.stringMatching(/secret/i) });
      expect(created.text).not.toContain(secret);
      const patched = await admin('PATCH', `/v1/admin/terminals/${PAYROC}`, { providerConfig: { ...payrocBody().providerConfig, ...extra } });
      expect(problem(patched)).toContainEqual({ path: `providerConfig.${key}`, message: expect.stringMatching(/secret/i) });
      expect(patched.text).not.toContain(secret);
      expect(JSON.stringify(await h.db.query('SELECT * FROM terminal'))).not.toContain(secret);
    });

    it('PATCH changes the configuration, audited before/after, and the next session uses it', async () => {
      // The wallet terminal offers w-0002 only: a session for 2sdflsd is not offered (and is now cached).
      const refused = await issue(WALLET, { walletId: WALLET_IDS[0] });
      expect(refused.status).toBe(403);
      expect((await h.auditEvents(String(refused.body.requestId))).map((e) => e.reason)).toEqual(['scope-not-offered']);
      const config = { parentSystemId: PARENT_SYSTEM_ID, walletIds: [...WALLET_IDS] };
      const res = await admin('PATCH', `/v1/admin/terminals/${WALLET}`, { providerConfig: config });
      expect(res.status).toBe(200);
      expect(res.body.providerConfig).toEqual(config);
      const [event] = await events(res);
      expect([event.action, event.actor_id]).toEqual(['terminal.updated', 'alice@example.com']);
      expect(event.details).toEqual({
        terminalNumber: WALLET,
        before: { providerConfig: walletBody().providerConfig },
        after: { providerConfig: config },
      });
      // At once on this instance: the provider-config cache was invalidated by the change.
      const issued = await issue(WALLET, { walletId: WALLET_IDS[0] });
      expect(issued.status).toBe(201);

      const embedded = await admin('PATCH', `/v1/admin/terminals/${EMBEDDED}`, { providerConfig: { apis: ['gateway', 'merchant-central'] } });
      expect(embedded.status).toBe(200);
      expect((await issue(EMBEDDED, { 'merchant-central': true })).status).toBe(201);
    });

    it('a change of provider needs a valid configuration for the new one', async () => {
      const HYP = '0882819133';
      expect((await admin('POST', '/v1/admin/terminals', { ...base, terminalNumber: HYP, label: 'Switching lane', credentialRef: `hyp/${HYP}` })).status).toBe(
        201,
      );
      const without = await admin('PATCH', `/v1/admin/terminals/${HYP}`, { provider: 'payroc' });
      expect(problem(without).map((e) => e.path)).toContain('providerConfig.processingTerminalId');
      // Hyp has no provider fields: a Payroc configuration is refused for it.
      const wrong = await admin('POST', '/v1/admin/terminals', { ...base, terminalNumber: '0882819139', providerConfig: payrocBody().providerConfig });
      expect(problem(wrong).map((e) => e.path)).toContain('providerConfig');
      expect((await admin('GET', `/v1/admin/terminals/${HYP}`)).body).toMatchObject({ provider: 'hyp', providerConfig: {} });

      const config = { processingTerminalId: '1234002', identityUrl: 'https://identity.example/authorize' };
      const switched = await admin('PATCH', `/v1/admin/terminals/${HYP}`, { provider: 'payroc', providerConfig: config });
      expect(switched.status).toBe(200);
      expect(switched.body).toMatchObject({ provider: 'payroc', providerConfig: config });
      const [event] = await events(switched);
      expect(event.details).toEqual({
        terminalNumber: HYP,
        before: { provider: 'hyp', providerConfig: {} },
        after: { provider: 'payroc', providerConfig: config },
      });
      // And back: the Payroc fields are no configuration for Hyp.
      expect(problem(await admin('PATCH', `/v1/admin/terminals/${HYP}`, { provider: 'hyp' })).map((e) => e.path)).toContain('providerConfig');
      expect((await admin('PATCH', `/v1/admin/terminals/${HYP}`, { provider: 'hyp', providerConfig: {} })).status).toBe(200);
    });

    it('a configuration change whose audit event cannot be written changes nothing (503)', async () => {
      await h.db.query(`ALTER TABLE audit_event ADD CONSTRAINT no_terminal_change CHECK (action NOT LIKE 'terminal.%') NOT VALID`);
      try {
        const patched = await admin('PATCH', `/v1/admin/terminals/${WALLET}`, { providerConfig: walletBody().providerConfig });
        expect(patched.status).toBe(503);
        expect(patched.headers['content-type']).toMatch(/^application\/problem\+json/);
        const created = await admin('POST', '/v1/admin/terminals', { ...walletBody(), terminalNumber: '0882819139' });
        expect(created.status).toBe(503);
      } finally {
        await h.db.query('ALTER TABLE audit_event DROP CONSTRAINT IF EXISTS no_terminal_change');
      }
      expect(await storedConfig(WALLET)).toEqual({ parentSystemId: PARENT_SYSTEM_ID, walletIds: [...WALLET_IDS] });
      expect(await storedConfig('0882819139')).toBeUndefined();
      expect((await issue(WALLET, { walletId: WALLET_IDS[0] })).status).toBe(201);
    });

    it("the CLI's terminal:add takes --provider-config with the same validation", async () => {
      const CLI = '0882819134';
      const args = { number: CLI, label: 'CLI wallet', endpoint: h.walletUrl, provider: 'wallet', 'credential-ref': `wallet/${WALLET_TERMINAL}` };
      await expect(addTerminalFromCli(h.app, { ...args, 'provider-config': '{"parentSystemId": "BL13GT"' }, 'dana', 'cli-pc-1')).rejects.toMatchObject({
        status: 400,
        errors: [expect.objectContaining({ path: 'providerConfig' })],
      });
      await expect(
        addTerminalFromCli(
          h.app,
          { ...args, 'provider-config': JSON.stringify({ parentSystemId: PARENT_SYSTEM_ID, walletIds: [], authToken: 'x' }) },
          'dana',
          'cli-pc-2',
        ),
      ).rejects.toMatchObject({ status: 400, errors: expect.arrayContaining([expect.objectContaining({ path: 'providerConfig.authToken' })]) });
      await expect(
        addTerminalFromCli(h.app, { ...args, 'provider-config': JSON.stringify({ parentSystemId: PARENT_SYSTEM_ID, walletIds: [] }) }, 'dana', 'cli-pc-3'),
      ).rejects.toMatchObject({
        status: 400,
        errors: expect.arrayContaining([expect.objectContaining({ path: 'providerConfig.walletIds' })]),
      });
      expect(await storedConfig(CLI)).toBeUndefined();

      const config = { parentSystemId: PARENT_SYSTEM_ID, walletIds: [WALLET_IDS[0]] };
      const saved = await addTerminalFromCli(h.app, { ...args, 'provider-config': JSON.stringify(config) }, 'dana', 'cli-pc-4');
      expect(saved).toMatchObject({ terminalNumber: CLI, provider: 'wallet', providerConfig: config });
      const [event] = await h.auditEvents('cli-pc-4');
      expect([event.action, event.actor_id]).toEqual(['terminal.created', 'cli:dana']);
      expect(event.details).toMatchObject({ after: { providerConfig: config } });
      const cliDevice = await h.enrollDevice(POLICY, [CLI]);
      expect(
        (await h.post('/v1/sessions', { terminalNumber: CLI, scope: { walletId: WALLET_IDS[0] } }, { authorization: `Bearer ${cliDevice.jwt()}` })).status,
      ).toBe(201);

      // Run again without the option: the configuration stays as it is.
      await addTerminalFromCli(h.app, { ...args, label: 'CLI wallet 2' }, 'dana', 'cli-pc-5');
      expect(await storedConfig(CLI)).toEqual(config);
    });
  });
});
