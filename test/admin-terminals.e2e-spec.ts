import { BrokerHarness, TERMINAL, type HttpResult } from './support/broker-harness';

const NEW = '0882819100';
const base = { terminalNumber: NEW, label: 'Store 7 - lane 1', endpointUrl: 'https://gw.example/xpo/Relay', credentialRef: `hyp/${NEW}` };

describe('admin API: terminals', () => {
  let h: BrokerHarness;
  let admin: (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown) => Promise<HttpResult>;

  beforeAll(async () => {
    h = await BrokerHarness.start();
    admin = (method, path, body) =>
      h.send(method, path, body, { authorization: `Bearer ${h.operatorToken(['admin'], { subject: 'alice@example.com' })}` });
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
});
