import type { AuditEventInput } from '../audit/audit-event';
import type { AuditTrail } from '../audit/audit-trail';
import type { SessionFingerprinter } from '../audit/session-fingerprint';
import { AuditUnavailableError, BrokerError, ForbiddenError, ValidationError } from '../common/errors';
import type { AppConfig } from '../config/app-config';
import type { DevicePrincipal } from '../devices/device';
import { GatewayCall } from '../gateways/gateway-call';
import type { CreateSessionInput, GatewayProvider, GatewaySession } from '../gateways/gateway-provider';
import { GatewayRegistry } from '../gateways/gateway-registry';
import { REJECTIONS, gatewayRejected } from '../gateways/gateway-rejections';
import { GatewayResilience } from '../gateways/gateway-resilience';
import { hypProvider } from '../gateways/hyp/hyp.definition';
import type { BrokerMetrics } from '../metrics/broker-metrics';
import type { Terminal } from '../terminals/terminal';
import type { TerminalDirectory } from '../terminals/terminal-directory';
import { SessionIssuer } from './session-issuer';

/**
 * The issuance rules on their own: every collaborator that does I/O (terminal directory, secret
 * store, audit trail, gateway) is a fake that records what it was asked, so each rule is checked
 * by what the issuer did and in which order, without a database or HTTP.
 */

const origin = { requestId: 'req-1', clientIp: '10.0.0.1' };

const terminal: Terminal = {
  id: 't1',
  terminalNumber: '0880001',
  label: 'till 1',
  provider: 'hyp',
  endpointUrl: 'https://gateway.test/p',
  credentialRef: 'terminals/0880001',
  enabled: true,
  defaultPolicy: { allowUnscoped: false, allowed: [{ command: 'doDeal' }] },
  providerConfig: {},
};

const device = (overrides: Partial<DevicePrincipal> = {}): DevicePrincipal => ({
  deviceId: 'dev-1',
  policy: null,
  terminalNumbers: [terminal.terminalNumber],
  jti: 'jti-1',
  ...overrides,
});

function setup(options: { terminals?: Terminal[]; audit?: (e: AuditEventInput) => Promise<void> } = {}) {
  const log: string[] = [];
  const events: AuditEventInput[] = [];
  const calls: Array<CreateSessionInput<unknown, unknown>> = [];
  const secretReads: string[] = [];
  let secret = { user: 'merchant', password: 'one' };
  let gatewayAnswer: (input: CreateSessionInput<unknown, unknown>) => Promise<GatewaySession> = () =>
    Promise.resolve({ sessionId: 'S-1', resultCode: '0', gatewayReference: 'tran-1', expiresIn: 600, reusable: true });

  const gateway: GatewayProvider<unknown, unknown> = {
    name: 'hyp',
    createSession: (input) => {
      log.push('gateway');
      calls.push(input);
      return gatewayAnswer(input);
    },
  };
  const terminals = { find: (n: string) => Promise.resolve((options.terminals ?? [terminal]).find((t) => t.terminalNumber === n)) };
  const secrets = {
    name: 'fake',
    get: (ref: string) => (secretReads.push(`get ${ref}`), Promise.resolve(secret)),
    refresh: (ref: string) => (secretReads.push(`refresh ${ref}`), Promise.resolve(secret)),
    check: () => Promise.resolve(),
  };
  const audit = {
    record: async (e: AuditEventInput) => {
      log.push(e.action);
      events.push(e);
      await options.audit?.(e);
    },
  };
  const config = { values: { REQUEST_DEADLINE_MS: 2_000 } } as AppConfig;
  const resilience = new GatewayResilience({
    maxAttempts: 2,
    baseDelayMs: 1,
    breakerThreshold: 100,
    breakerHalfOpenAfterMs: 1_000,
    bulkheadLimit: 10,
    bulkheadQueue: 10,
  });
  const issuer = new SessionIssuer(
    terminals as unknown as TerminalDirectory,
    new GatewayRegistry([{ spec: hypProvider, gateway }]),
    new GatewayCall(secrets, resilience, config),
    audit as unknown as AuditTrail,
    { fingerprint: (id: string) => `fp(${id})` } as unknown as SessionFingerprinter,
    config,
    { knowTerminal: () => undefined } as unknown as BrokerMetrics,
  );
  return {
    issuer,
    log,
    events,
    calls,
    secretReads,
    rotateSecret: (password: string) => (secret = { ...secret, password }),
    answer: (fn: typeof gatewayAnswer) => (gatewayAnswer = fn),
  };
}

async function refusal(promise: Promise<unknown>): Promise<BrokerError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrokerError);
  return err as BrokerError;
}

describe('SessionIssuer', () => {
  it('records the attempt before the gateway call and the issued event before handing the session out', async () => {
    const t = setup();
    const session = await t.issuer.issue(device(), { scope: { command: 'dodeal' } }, origin);

    expect(t.log).toEqual(['session.requested', 'gateway', 'session.issued']);
    expect(session).toMatchObject({ sessionId: 'S-1', provider: 'hyp', terminalNumber: '0880001', scope: { command: 'doDeal' }, requestId: 'req-1' });
    const issued = t.events[1];
    expect(issued).toMatchObject({ outcome: 'issued', sessionFingerprint: 'fp(S-1)', gatewayTranId: 'tran-1', details: { attempts: 1 } });
    // The trail never holds the sessionId or a credential.
    expect(JSON.stringify(t.events)).not.toContain('"S-1"');
    expect(JSON.stringify(t.events)).not.toContain('one');
  });

  it('refuses a scope outside the policy, audited, without calling the gateway or reading the secret', async () => {
    const t = setup();
    const err = await refusal(t.issuer.issue(device(), { scope: { command: 'cancelDeal' } }, origin));

    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as ForbiddenError).reason).toBe('scope-not-permitted');
    expect(t.log).toEqual(['session.denied']);
    expect(t.events[0]).toMatchObject({ outcome: 'denied', reason: 'scope-not-permitted', scope: { command: 'cancelDeal' } });
    expect(t.secretReads).toEqual([]);
  });

  it("uses the device's own policy over the terminal's default", async () => {
    const t = setup();
    await t.issuer.issue(device({ policy: { allowUnscoped: true, allowed: [] } }), {}, origin);
    expect(t.log).toEqual(['session.requested', 'gateway', 'session.issued']);

    const refused = await refusal(t.issuer.issue(device({ policy: { allowUnscoped: true, allowed: [] } }), { scope: { command: 'doDeal' } }, origin));
    expect((refused as ForbiddenError).reason).toBe('scope-not-permitted');
  });

  it('refuses a terminal the device is not bound to, audited with the number asked for', async () => {
    const t = setup();
    const err = await refusal(t.issuer.issue(device(), { terminalNumber: '0880002' }, origin));

    expect([err.status, (err as ForbiddenError).reason]).toEqual([403, 'terminal-not-bound']);
    expect(t.events).toEqual([expect.objectContaining({ action: 'session.denied', reason: 'terminal-not-bound', terminalNumber: '0880002' })]);
    expect(t.calls).toHaveLength(0);
  });

  it('asks which terminal when the device is bound to several and named none', async () => {
    const t = setup();
    const err = await refusal(t.issuer.issue(device({ terminalNumbers: ['0880001', '0880002'] }), {}, origin));

    expect(err).toBeInstanceOf(ValidationError);
    expect(t.events).toEqual([expect.objectContaining({ reason: 'terminal-ambiguous' })]);
  });

  it('refuses a disabled or unknown terminal', async () => {
    const t = setup({ terminals: [{ ...terminal, enabled: false }] });
    expect(((await refusal(t.issuer.issue(device(), {}, origin))) as ForbiddenError).reason).toBe('terminal-disabled');
    const u = setup({ terminals: [] });
    expect(((await refusal(u.issuer.issue(device(), {}, origin))) as ForbiddenError).reason).toBe('terminal-disabled');
    expect([...t.calls, ...u.calls]).toHaveLength(0);
  });

  it('refuses a scope invalid for the provider, naming the field', async () => {
    const t = setup();
    const err = await refusal(t.issuer.issue(device(), { scope: { command: 'launchMissiles' } }, origin));

    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toContain('scope.command');
    expect(t.events).toEqual([expect.objectContaining({ reason: 'scope-invalid' })]);
  });

  it('does not call the gateway when the attempt cannot be recorded', async () => {
    const t = setup({
      audit: (e) => (e.action === 'session.requested' ? Promise.reject(new AuditUnavailableError()) : Promise.resolve()),
    });
    await expect(t.issuer.issue(device(), { scope: { command: 'doDeal' } }, origin)).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(t.calls).toHaveLength(0);
  });

  it('fails closed when the issued event cannot be written: no session handed out, no failure event over it', async () => {
    const t = setup({
      audit: (e) => (e.action === 'session.issued' ? Promise.reject(new AuditUnavailableError()) : Promise.resolve()),
    });
    await expect(t.issuer.issue(device(), { scope: { command: 'doDeal' } }, origin)).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(t.log).toEqual(['session.requested', 'gateway', 'session.issued']);
  });

  it('reads the secret again once on a merchant-auth refusal and succeeds with the rotated one', async () => {
    const t = setup();
    t.answer((input) => {
      if (input.credentials.password !== 'one') {
        return Promise.resolve({ sessionId: 'S-2', resultCode: '0', gatewayReference: 'tran-2', expiresIn: 600, reusable: true });
      }
      // Rotated in the store after the broker cached the old one.
      t.rotateSecret('two');
      return Promise.reject(gatewayRejected(REJECTIONS.merchantAuth, '405', 'refused'));
    });
    const session = await t.issuer.issue(device(), { scope: { command: 'doDeal' } }, origin);

    expect(session.sessionId).toBe('S-2');
    expect(t.secretReads).toEqual(['get terminals/0880001', 'refresh terminals/0880001']);
    expect(t.events[1]).toMatchObject({ action: 'session.issued', details: { attempts: 2 } });
  });

  it('does not ask the gateway again when the re-read secret is unchanged, and records the failure', async () => {
    const t = setup();
    t.answer(() => Promise.reject(gatewayRejected(REJECTIONS.merchantAuth, '405', 'refused')));
    const err = await refusal(t.issuer.issue(device(), { scope: { command: 'doDeal' } }, origin));

    expect(err.code).toBe('gateway-merchant-auth-failed');
    expect(t.calls).toHaveLength(1);
    expect(t.secretReads).toEqual(['get terminals/0880001', 'refresh terminals/0880001']);
    expect(t.events[1]).toMatchObject({ action: 'session.failed', reason: 'gateway-merchant-auth-failed', gatewayResult: '405', details: { attempts: 1 } });
  });

  it('maps an unexpected failure to a retryable 503 and records it', async () => {
    const t = setup();
    t.answer(() => Promise.reject(new Error('socket hang up')));
    const err = await refusal(t.issuer.issue(device(), { scope: { command: 'doDeal' } }, origin));

    expect([err.status, err.code, err.retryAfterSeconds]).toEqual([503, 'dependency-unavailable', 5]);
    expect(err.message).not.toContain('socket');
    expect(t.events[1]).toMatchObject({ action: 'session.failed', outcome: 'failed', reason: 'dependency-unavailable' });
  });

  it('answers a gateway timeout when the request deadline ran out during the call', async () => {
    const t = setup();
    t.answer((input) => new Promise((_, reject) => input.signal.addEventListener('abort', () => reject(new Error('aborted')))));
    const err = await refusal(t.issuer.issue(device(), { scope: { command: 'doDeal' } }, origin, undefined, Date.now() + 50));

    expect(err.code).toBe('gateway-timeout');
    expect(t.events[1]).toMatchObject({ action: 'session.failed', reason: 'gateway-timeout' });
  });

  it('sends the same outbound idempotency key on every retry of one device request', async () => {
    const t = setup();
    let first = true;
    t.answer(() => {
      if (first) {
        first = false;
        return Promise.reject(gatewayRejected(REJECTIONS.rateLimited, '457', 'busy'));
      }
      return Promise.resolve({ sessionId: 'S-3', resultCode: '0', gatewayReference: 'tran-3', expiresIn: 600, reusable: true });
    });
    await t.issuer.issue(device(), { scope: { command: 'doDeal' } }, origin, 'device-key-1');

    expect(t.calls).toHaveLength(2);
    expect(t.calls[0].idempotencyKey).toBe(t.calls[1].idempotencyKey);
  });
});
