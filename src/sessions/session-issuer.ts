import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import type { AuditOrigin } from '../http/audit-origin';
import { AuditTrail } from '../audit/audit-trail';
import { SessionFingerprinter } from '../audit/session-fingerprint';
import { AuditUnavailableError, BrokerError, DependencyUnavailableError, ForbiddenError, ValidationError } from '../common/errors';
import { validationErrorOf } from '../common/zod-issues';
import { AppConfig } from '../config/app-config';
import type { DevicePrincipal } from '../devices/device';
import { GatewayCall, type CallTally } from '../gateways/gateway-call';
import type { GatewayTerminal } from '../gateways/gateway-provider';
import { GatewayRegistry, type RegisteredProvider } from '../gateways/gateway-registry';
import { BrokerMetrics } from '../metrics/broker-metrics';
import type { Terminal } from '../terminals/terminal';
import { TerminalDirectory } from '../terminals/terminal-directory';
import { outboundIdempotencyKey } from './outbound-idempotency-key';
import { policyPart } from '../policy/scope-policy';
import type { SessionRequest } from './session-request.schema';

export interface IssuedSession {
  readonly sessionId: string;
  /** null: the session stays open until closed (DELETE /v1/sessions/{sessionId}). */
  readonly expiresAt: string | null;
  readonly expiresIn: number | null;
  readonly reusable: boolean;
  /** The terminal's provider: hyp, payroc, embedded-components, wallet. */
  readonly provider: string;
  readonly terminalNumber: string;
  /** The scope as validated for the provider, in its documented spelling. */
  readonly scope: Record<string, unknown> | null;
  readonly requestId: string;
}

/** What passed every check before the gateway call. */
interface Admitted {
  readonly terminal: Terminal;
  readonly provider: RegisteredProvider;
  readonly gatewayTerminal: GatewayTerminal;
  readonly scope: Record<string, unknown> | undefined;
}

type EventBase = Omit<Parameters<AuditTrail['record']>[0], 'action' | 'outcome'>;

/**
 * The rules of POST /v1/sessions, for every provider: which terminal, is the scope valid for its
 * provider and within the device policy, record the attempt, fetch the merchant's credentials, ask
 * the gateway (retrying what is transient, within one deadline), record the outcome, and only then
 * hand the sessionId out. Fails closed on audit.
 */
@Injectable()
export class SessionIssuer {
  private readonly deadlineMs: number;

  constructor(
    private readonly terminals: TerminalDirectory,
    private readonly gateways: GatewayRegistry,
    private readonly gatewayCall: GatewayCall,
    private readonly audit: AuditTrail,
    private readonly fingerprinter: SessionFingerprinter,
    config: AppConfig,
    private readonly metrics: BrokerMetrics,
  ) {
    this.deadlineMs = config.values.REQUEST_DEADLINE_MS;
  }

  /**
   * `idempotencyKey`: the device's Idempotency-Key, if it sent one. `deadlineAt` (epoch ms): the
   * request's one deadline, counted from its arrival (src/sessions/request-deadline.ts).
   */
  async issue(
    device: DevicePrincipal,
    request: SessionRequest,
    origin: AuditOrigin,
    idempotencyKey?: string,
    deadlineAt = Date.now() + this.deadlineMs,
  ): Promise<IssuedSession> {
    const started = performance.now();
    const deadline = AbortSignal.timeout(Math.max(1, deadlineAt - Date.now()));
    const terminalNumber = request.terminalNumber ?? soleTerminal(device);
    const base: EventBase = { actorType: 'device', actorId: device.deviceId, terminalNumber, scope: null, ...origin };

    const { terminal, provider, gatewayTerminal, scope } = await this.admit(device, request, base, terminalNumber);
    const event: EventBase = { ...base, scope: scope ?? null };
    const details = { provider: provider.spec.name };

    // Recorded before the gateway call: a crash mid-call still leaves a trace.
    await this.record({ ...event, action: 'session.requested', outcome: 'pending', details });

    const tally: CallTally = { attempts: 0 };
    try {
      const outboundKey = outboundIdempotencyKey(device.deviceId, idempotencyKey);
      const session = await this.gatewayCall.run(
        terminal,
        deadline,
        (credentials, signal) =>
          provider.gateway.createSession({
            terminal: gatewayTerminal,
            credentials,
            scope,
            requestId: origin.requestId,
            idempotencyKey: outboundKey,
            signal,
          }),
        tally,
      );
      await this.record({
        ...event,
        action: 'session.issued',
        outcome: 'issued',
        gatewayResult: session.resultCode,
        gatewayTranId: session.gatewayReference,
        latencyMs: performance.now() - started,
        sessionFingerprint: this.fingerprinter.fingerprint(session.sessionId),
        details: { ...details, attempts: tally.attempts, expiresIn: session.expiresIn, reusable: session.reusable },
      });
      return {
        sessionId: session.sessionId,
        expiresAt: session.expiresIn === null ? null : new Date(Date.now() + session.expiresIn * 1000).toISOString(),
        expiresIn: session.expiresIn,
        reusable: session.reusable,
        provider: provider.spec.name,
        terminalNumber: terminal.terminalNumber,
        scope: scope ?? null,
        requestId: origin.requestId,
      };
    } catch (err) {
      if (err instanceof AuditUnavailableError) throw err;
      const error = this.gatewayCall.failure(err, deadline, 'The session could not be created; retry later.');
      await this.record({
        ...event,
        action: 'session.failed',
        outcome: 'failed',
        reason: error.code,
        gatewayResult: error.gatewayResult,
        latencyMs: performance.now() - started,
        details: { ...details, attempts: tally.attempts },
      });
      throw error;
    }
  }

  /**
   * An Idempotency-Key retry about to get `stored` (the response of an earlier request) again: the
   * device must still pass every admission check, for the session's own terminal, under its
   * current bindings and policy (a refusal is audited and answered as for a fresh request), and
   * every replay is recorded with the request it repeats.
   */
  async replay(device: DevicePrincipal, request: SessionRequest, stored: IssuedSession, origin: AuditOrigin): Promise<IssuedSession> {
    const terminalNumber = stored.terminalNumber;
    const base: EventBase = { actorType: 'device', actorId: device.deviceId, terminalNumber, scope: null, ...origin };
    const { provider, scope } = await this.admit(device, request, base, terminalNumber);
    await this.record({
      ...base,
      scope: scope ?? null,
      action: 'session.replayed',
      outcome: 'success',
      sessionFingerprint: this.fingerprinter.fingerprint(stored.sessionId),
      details: { provider: provider.spec.name, originalRequestId: stored.requestId },
    });
    return stored;
  }

  /**
   * The request deadline answered 503 before `session` (issued, or replayed, and recorded) could
   * be handed out: recorded too, so the trail shows the device never received it.
   */
  async withheld(device: DevicePrincipal, session: IssuedSession, origin: AuditOrigin): Promise<void> {
    await this.record({
      actorType: 'device',
      actorId: device.deviceId,
      terminalNumber: session.terminalNumber,
      scope: session.scope,
      ...origin,
      action: 'session.withheld',
      outcome: 'failed',
      reason: 'request-deadline',
      sessionFingerprint: this.fingerprinter.fingerprint(session.sessionId),
      details: { provider: session.provider, originalRequestId: session.requestId },
    });
  }

  /** Every check made before any outbound call; each refusal is audited. */
  private async admit(device: DevicePrincipal, request: SessionRequest, base: EventBase, terminalNumber: string | undefined): Promise<Admitted> {
    const deny = async (error: BrokerError, reason: string, scope: object | null = null): Promise<never> => {
      await this.record({ ...base, scope, action: 'session.denied', outcome: 'denied', reason });
      throw error;
    };
    const fail = async (error: BrokerError, reason: string, provider: string): Promise<never> => {
      await this.record({ ...base, action: 'session.failed', outcome: 'failed', reason, details: { provider } });
      throw error;
    };

    if (terminalNumber === undefined) {
      return deny(new ValidationError('terminalNumber is required: the device is bound to more than one terminal.'), 'terminal-ambiguous');
    }
    if (!device.terminalNumbers.includes(terminalNumber)) {
      return deny(new ForbiddenError('The device is not bound to this terminal.', 'terminal-not-bound'), 'terminal-not-bound');
    }
    const terminal = await this.terminals.find(terminalNumber);
    // It exists: its metrics get its own `terminal` label (numbers that do not exist share `unknown`).
    if (terminal) this.metrics.knowTerminal(terminal.terminalNumber);
    if (!terminal || !terminal.enabled) {
      return deny(new ForbiddenError('The terminal is not enabled.', 'terminal-disabled'), 'terminal-disabled');
    }
    const provider = this.gateways.get(terminal.provider);
    if (!provider) {
      return fail(new DependencyUnavailableError('The terminal’s gateway is not available.', 30), 'provider-unknown', terminal.provider);
    }

    const parsed = provider.spec.scopeSchema.safeParse(request.scope);
    if (!parsed.success) {
      return deny(validationErrorOf(parsed.error, `The scope is invalid for this terminal's provider (${provider.spec.name})`, ['scope']), 'scope-invalid');
    }
    const scope = parsed.data as Record<string, unknown> | undefined;

    const config = provider.spec.configSchema.safeParse(terminal.providerConfig);
    if (!config.success) {
      return fail(
        new DependencyUnavailableError('The terminal’s gateway configuration is incomplete; sessions cannot be issued for it.', 30),
        'terminal-misconfigured',
        provider.spec.name,
      );
    }
    if (provider.spec.offers && !provider.spec.offers(config.data, scope)) {
      return deny(new ForbiddenError('The terminal is not configured for the requested scope.', 'scope-not-offered'), 'scope-not-offered', scope ?? null);
    }
    // A device without a policy of its own has its terminal's default policy.
    if (!provider.spec.permits(policyPart(device.policy ?? terminal.defaultPolicy, provider), scope)) {
      return deny(new ForbiddenError('The requested scope is outside the device policy.', 'scope-not-permitted'), 'scope-not-permitted', scope ?? null);
    }
    const gatewayTerminal = { terminalNumber, endpointUrl: terminal.endpointUrl, config: config.data as unknown };
    return { terminal, provider, gatewayTerminal, scope };
  }

  private async record(e: Parameters<AuditTrail['record']>[0]): Promise<void> {
    await this.audit.record(e);
  }
}

function soleTerminal(device: DevicePrincipal): string | undefined {
  return device.terminalNumbers.length === 1 ? device.terminalNumbers[0] : undefined;
}
