import { BrokerHarness, TERMINAL, type TestDevice } from './support/broker-harness';

describe('POST /v1/sessions input validation', () => {
  let h: BrokerHarness;
  let device: TestDevice;

  beforeAll(async () => {
    h = await BrokerHarness.start();
    device = await h.enrollDevice({ allowUnscoped: true, allowed: [{ command: 'doDeal' }] });
  });
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  async function expectProblem(body: unknown, status: number, opts: { raw?: boolean; contentType?: string } = {}) {
    const before = h.sandbox.stats.getSessionId;
    const headers: Record<string, string> = { authorization: `Bearer ${device.jwt()}` };
    if (opts.contentType) headers['content-type'] = opts.contentType;
    const res = await h.post('/v1/sessions', body, headers, opts.raw);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status, type: expect.stringContaining('/problems/') });
    expect(typeof res.body.detail).toBe('string');
    expect(h.sandbox.stats.getSessionId).toBe(before);
    return res;
  }

  it.each([
    ['malformed JSON', '{"terminalNumber": "0882819014",', true],
    ['an array', '[]', true],
    ['a string', '"hello"', true],
  ])('refuses %s with 400', async (_, body, raw) => {
    await expectProblem(body, 400, { raw });
  });

  it.each([
    ['a missing value', '{"terminalNumber": "0882819014",\n "scope": }', /unexpected '}' at line 2, column 11/],
    ['a body cut short', '{"terminalNumber": "0882819014",\n "scope": {"command": "doDeal"', /ends early \(line 2, column 31/],
    ['a bare word', '{"terminalNumber": secret0882819014}', /unexpected character at line 1, column 20/],
    ['a trailing comma', '{"terminalNumber": "0882819014",}', /line 1, column 33/],
  ])('says where malformed JSON breaks (%s), without quoting the body', async (_, body, where) => {
    const res = await expectProblem(body, 400, { raw: true });
    expect(res.body.detail).toMatch(/not valid JSON/);
    expect(res.body.detail).toMatch(where);
    expect(res.text).not.toContain('0882819014');
  });

  it('refuses a prototype-poisoning key with 400', async () => {
    const res = await expectProblem('{"terminalNumber": "0882819014", "__proto__": {"x": 1}}', 400, { raw: true });
    expect(res.body.detail).toMatch(/__proto__/);
  });

  it.each([
    ['unknown top-level field', { terminalNumber: TERMINAL, amount: 5 }],
    ['unknown scope field', { terminalNumber: TERMINAL, scope: { command: 'doDeal', extra: 1 } }],
    ['terminalNumber as number', { terminalNumber: 882819014 }],
    ['terminalNumber too short', { terminalNumber: '12345' }],
    ['terminalNumber with XML', { terminalNumber: '</terminalNumber><x>' }],
    ['scope as string', { terminalNumber: TERMINAL, scope: 'doDeal' }],
    ['unknown command', { terminalNumber: TERMINAL, scope: { command: 'stealMoney' } }],
    ['command with XML metacharacters', { terminalNumber: TERMINAL, scope: { command: 'doDeal<x/>&amp;' } }],
    ['unknown validation', { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'Sometimes' } }],
    ['unknown transactionType', { terminalNumber: TERMINAL, scope: { command: 'doDeal', transactionType: 'Gift' } }],
    ['validation without command', { terminalNumber: TERMINAL, scope: { validation: 'AutoComm' } }],
    ['transactionType without command', { terminalNumber: TERMINAL, scope: { transactionType: 'Credit' } }],
  ])('refuses %s with 400 and says which field', async (_, body) => {
    const res = await expectProblem(body, 400);
    expect(res.body.code).toBe('invalid-request');
    expect(Array.isArray(res.body.errors)).toBe(true);
  });

  it('refuses a 17 KiB body with 413', async () => {
    await expectProblem({ terminalNumber: TERMINAL, padding: 'x'.repeat(17 * 1024) }, 413);
  });

  it('refuses a non-JSON media type with 415', async () => {
    await expectProblem('terminalNumber=0882819014', 415, { raw: true, contentType: 'application/x-www-form-urlencoded' });
  });

  it('answers unknown routes with a 404 problem', async () => {
    const res = await h.post('/v1/nope', {});
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('still serves valid requests after all of the above (no crash)', async () => {
    expect((await h.issue(device, { terminalNumber: TERMINAL, scope: { command: 'DODEAL' } })).status).toBe(201);
  });
});
