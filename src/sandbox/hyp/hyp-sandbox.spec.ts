import { request } from 'undici';
import { GatewayProtocolError } from '../../common/errors';
import { buildDoDealRequest, buildGetSessionIdRequest, parseHypResponse } from '../../gateways/hyp/hyp-xml';
import { SEED_ERROR_405, SEED_SUCCESS } from '../../../test/support/hyp-seed-fixtures';
import { createHypSandbox, type HypSandbox, type HypSandboxOptions } from './hyp-sandbox';

const TERMINAL = '0882819014';
const OTHER_TERMINAL = '0882819015';
const USER = 'merchant-user';
const PASSWORD = 'merchant-pass-&=+';
const CREDS = { user: USER, password: PASSWORD };

/** The seed's layout with the per-call values blanked, to compare shapes exactly. */
function shape(xml: string): string {
  return xml
    .replace(/>\s+</g, '><')
    .replace(/\s+\/>/g, '/>')
    .replace(/<(dateTime|tranId|sessionId)>[^<]*<\/\1>/g, '<$1>*</$1>')
    .trim();
}

let sandbox: HypSandbox | undefined;
let url = '';

async function start(overrides: Partial<HypSandboxOptions> = {}): Promise<HypSandbox> {
  sandbox = createHypSandbox({
    terminals: { [TERMINAL]: { ...CREDS }, [OTHER_TERMINAL]: { ...CREDS } },
    ...overrides,
  });
  url = await sandbox.listen(0);
  return sandbox;
}

afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function post(form: Record<string, string>) {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.statusCode, type: res.headers['content-type'], body: await res.body.text() };
}

const SCOPE = { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' };

async function issue(scope: Partial<typeof SCOPE> = SCOPE, creds = CREDS, terminalNumber = TERMINAL, requestId = '') {
  const res = await post({ ...creds, int_in: buildGetSessionIdRequest({ terminalNumber, requestId, scope }) });
  expect(res.status).toBe(200);
  return { ...res, parsed: parseHypResponse(res.body) };
}

const DEAL = { terminalNumber: TERMINAL, validation: 'AutoComm', transactionType: 'Credit', total: 1500, cardNo: '4580000000001234', cardExpiration: '1230' };

async function deal(sessionId: string, overrides: Partial<typeof DEAL> = {}, command?: string) {
  let intIn = buildDoDealRequest({ ...DEAL, ...overrides });
  if (command) intIn = intIn.replace(/doDeal/g, command);
  const res = await post({ sessionId, int_in: intIn });
  expect(res.status).toBe(200);
  return parseHypResponse(res.body);
}

/** `{}` asks for no scope at all. */
async function sessionId(scope: Partial<typeof SCOPE> = SCOPE): Promise<string> {
  const { parsed } = await issue(scope);
  expect(parsed.result).toBe('000');
  return parsed.sessionId as string;
}

describe('Hyp sandbox: getSessionId', () => {
  it('issues a session in exactly the documented success shape', async () => {
    await start({ sessionReuse: true });
    const res = await issue();
    expect(res.type).toBe('application/xml; charset=utf-8');
    expect(res.body.startsWith("<?xml version='1.0'?>")).toBe(true);
    expect(shape(res.body)).toBe(shape(SEED_SUCCESS));
    expect(res.parsed.sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.body).toMatch(/<dateTime>\d{4}-\d{2}-\d{2} \d{2}:\d{2}<\/dateTime>/);
  });

  it('defaults to single-use 600 s sessions, fresh ids, increasing tranIds, and echoes the requestId', async () => {
    await start();
    const a = (await issue(SCOPE, CREDS, TERMINAL, 'req-<1>&')).parsed;
    const b = (await issue()).parsed;
    expect([a.sessionExpiration, a.sessionReUse, a.requestId]).toEqual(['600', '0', 'req-<1>&']);
    expect(a.sessionId).not.toBe(b.sessionId);
    expect(Number(b.tranId)).toBeGreaterThan(Number(a.tranId));
  });

  it('stamps dateTime from the injected clock', async () => {
    const at = new Date(2025, 7, 6, 11, 7, 30).getTime();
    await start({ now: () => at, sessionTtlSeconds: 90 });
    const res = await issue();
    expect(res.body).toContain('<dateTime>2025-08-06 11:07</dateTime>');
    expect(res.parsed.sessionExpiration).toBe('90');
  });

  it.each([
    ['a wrong password', { user: USER, password: 'nope' }, TERMINAL],
    ['a wrong user', { user: 'someone', password: PASSWORD }, TERMINAL],
    ['no credentials at all', {}, TERMINAL],
    ['an unknown terminal', CREDS, '0000000000'],
    ['a prototype key as terminal', CREDS, '__proto__'],
  ])('answers the documented 405 verbatim for %s', async (_name, creds, terminal) => {
    await start();
    const res = await issue(SCOPE, creds as typeof CREDS, terminal);
    expect(shape(res.body)).toBe(shape(SEED_ERROR_405));
  });

  it('answers 455 for a terminal not enabled for sessions, and picks up setTerminal', async () => {
    const sb = await start();
    sb.setTerminal(TERMINAL, { ...CREDS, sessionsEnabled: false });
    const { parsed } = await issue();
    expect([parsed.result, parsed.message, parsed.sessionId]).toEqual(['455', 'Merchant does not support session id', undefined]);
    sb.setTerminal('1111111111', { user: 'new', password: 'pw' });
    expect((await issue(SCOPE, { user: 'new', password: 'pw' }, '1111111111')).parsed.result).toBe('000');
  });

  it.each([
    ['a non-getSessionId command', buildDoDealRequest(DEAL)],
    ['XML that is not Ashrait', '<html><body/></html>'],
    ['broken XML', '<ashrait><request>'],
    ['a DTD', '<!DOCTYPE x><ashrait/>'],
    ['validation without scopeCmd', buildGetSessionIdRequest({ terminalNumber: TERMINAL, requestId: '', scope: { validation: 'Verify' } })],
    ['an undocumented scopeCmd', buildGetSessionIdRequest({ terminalNumber: TERMINAL, requestId: '', scope: { command: 'getSessionId' } })],
    [
      'an undocumented transactionType',
      buildGetSessionIdRequest({ terminalNumber: TERMINAL, requestId: '', scope: { command: 'doDeal', transactionType: 'Gift' } }),
    ],
  ])('answers 303 for %s', async (_name, intIn) => {
    await start();
    const res = await post({ ...CREDS, int_in: intIn });
    expect(parseHypResponse(res.body)).toMatchObject({ result: '303', message: 'Gateway general error', sessionId: undefined });
  });

  it('forceResult replaces the result, in the documented error shape', async () => {
    await start({ faults: { forceResult: '457' } });
    const res = await issue();
    expect(res.parsed).toMatchObject({
      command: 'getSessionId',
      result: '457',
      message: 'Session id generation failed',
      sessionId: undefined,
      sessionExpiration: undefined,
      sessionReUse: undefined,
    });
    expect(res.body).toMatch(/<getSessionId>\s*<sessionId\/>\s*<sessionExpiration\/>\s*<sessionReUse\/>\s*<\/getSessionId>/);
  });
});

describe('Hyp sandbox: session-authenticated commands', () => {
  it('permits one doDeal with a fresh session, then answers 456', async () => {
    await start();
    const id = await sessionId();
    const first = await deal(id);
    expect(first).toMatchObject({ command: 'doDeal', result: '000', message: 'Permitted transaction' });
    expect(first.doDeal).toMatchObject({ status: '000', terminalNumber: TERMINAL, total: '1500', cardMask: '************1234' });
    expect(JSON.stringify(first)).not.toContain('4580000000001234');
    expect(await deal(id)).toMatchObject({ result: '456', message: 'Merchant session timeout' });
  });

  it('answers 456 for an unknown session', async () => {
    await start();
    expect((await deal('3e4cb361-0465-44db-9d46-bd393f0e120d')).result).toBe('456');
  });

  it('lets a session be reused when configured', async () => {
    await start({ sessionReuse: true });
    const id = await sessionId();
    expect((await deal(id)).result).toBe('000');
    expect((await deal(id)).result).toBe('000');
  });

  it('expires sessions on the injected clock', async () => {
    let now = 1_000_000;
    await start({ now: () => now, sessionReuse: true, sessionTtlSeconds: 600 });
    const id = await sessionId();
    now += 599_999;
    expect((await deal(id)).result).toBe('000');
    now += 1;
    expect((await deal(id)).result).toBe('456');
  });

  it.each([
    ['another validation', { validation: 'Verify' }, undefined],
    ['another transactionType', { transactionType: 'Debit' }, undefined],
    ['another terminal', { terminalNumber: OTHER_TERMINAL }, undefined],
    ['another command', {}, 'refundDeal'],
  ])('answers 444 for %s and leaves the session usable', async (_name, overrides, command) => {
    await start();
    const id = await sessionId();
    expect(await deal(id, overrides, command)).toMatchObject({ result: '444', message: 'Gateway general error' });
    // Case differences are not a scope violation.
    expect((await deal(id, { validation: 'autocomm', transactionType: 'CREDIT' })).result).toBe('000');
  });

  it('does not restrict what the scope left open', async () => {
    await start();
    const id = await sessionId({ command: 'doDeal' });
    expect((await deal(id, { validation: 'Verify', transactionType: 'Debit' })).result).toBe('000');
    const unscoped = await sessionId({});
    expect((await deal(unscoped, {}, 'refundDeal')).result).toBe('000');
  });

  it('permits exactly one of many concurrent uses of a single-use session', async () => {
    await start({ faults: { latencyMs: 20 } });
    const id = await sessionId();
    const results = await Promise.all(Array.from({ length: 10 }, () => deal(id)));
    expect(results.filter((r) => r.result === '000')).toHaveLength(1);
    expect(results.filter((r) => r.result === '456')).toHaveLength(9);
  });
});

describe('Hyp sandbox: faults', () => {
  it('http500 answers an HTML 500 page', async () => {
    await start({ faults: { http500: true } });
    const res = await post({ ...CREDS, int_in: buildGetSessionIdRequest({ terminalNumber: TERMINAL, requestId: '' }) });
    expect(res.status).toBe(500);
    expect(res.type).toMatch(/^text\/html/);
    expect(res.body).toMatch(/<html>/);
  });

  it('malformedBody answers 200 with XML cut short', async () => {
    await start({ faults: { malformedBody: true } });
    const res = await post({ ...CREDS, int_in: buildGetSessionIdRequest({ terminalNumber: TERMINAL, requestId: '' }) });
    expect(res.status).toBe(200);
    expect(res.body.startsWith("<?xml version='1.0'?>")).toBe(true);
    expect(() => parseHypResponse(res.body)).toThrow(GatewayProtocolError);
  });

  it('dropConnection closes the socket without an answer', async () => {
    await start({ faults: { dropConnection: true } });
    await expect(post({ ...CREDS, int_in: '' })).rejects.toMatchObject({ code: expect.stringMatching(/UND_ERR_SOCKET|ECONNRESET/) });
  });

  it('latencyMs delays the answer, and setFaults changes faults at runtime', async () => {
    const sb = await start({ faults: { latencyMs: 300 } });
    let started = Date.now();
    expect((await issue()).parsed.result).toBe('000');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    sb.setFaults({});
    started = Date.now();
    expect((await issue()).parsed.result).toBe('000');
    expect(Date.now() - started).toBeLessThan(250);
  });

  it('counts requests per mode, faulted ones included', async () => {
    const sb = await start({ faults: { http500: true } });
    await post({ ...CREDS, int_in: '' });
    sb.setFaults({});
    const id = await sessionId();
    await deal(id);
    expect(sb.stats).toEqual({ getSessionId: 2, sessionCommands: 1 });
  });

  it('close() does not wait for a pending slow answer', async () => {
    const sb = await start({ faults: { latencyMs: 10_000 } });
    const pending = post({ ...CREDS, int_in: '' }).catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await sb.close();
    sandbox = undefined;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('Hyp sandbox: secrecy', () => {
  it('writes nothing to stdout, stderr or the console while serving', async () => {
    const writes: string[] = [];
    const spies = [
      jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => (writes.push(String(chunk)), true)),
      jest.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (writes.push(String(chunk)), true)),
      ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
        jest.spyOn(console, m).mockImplementation((...args: unknown[]) => void writes.push(args.join(' '))),
      ),
    ];
    try {
      await start();
      const id = await sessionId();
      await deal(id);
      await deal(id);
      await post({ user: USER, password: 'wrong', int_in: 'garbage' });
      await post({ sessionId: id, int_in: '<bad' });
    } finally {
      spies.forEach((s) => s.mockRestore());
    }
    expect(writes).toEqual([]);
  });
});
