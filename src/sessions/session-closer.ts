import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import type { AuditOrigin } from '../http/audit-origin';
import { AuditTrail } from '../audit/audit-trail';
import { SessionFingerprinter } from '../audit/session-fingerprint';
import { AuditUnavailableError, BrokerError, ConflictError, DependencyUnavailableError, ForbiddenError, NotFoundError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import type { DevicePrincipal } from '../devices/device';
import { GatewayCall, type CallTally } from '../gateways/gateway-call';
import { GatewayRegistry } from '../gateways/gateway-registry';
import { TerminalDirectory } from '../terminals/terminal-directory';
import { SessionOwnership } from './session-ownership';

type EventBase = Omit<Parameters<AuditTrail['record']>[0], 'action' | 'outcome'>;

/**
 * DELETE /v1/sessions/{sessionId}, for gateways whose sessions stay open until closed: only the
 * device the session was issued to may close it (the audit trail's `session.issued` event, found
 * by the session's fingerprint, says which device that was); the close goes to the gateway and is
 * audited; closing a closed session succeeds again without calling the gateway.
 */
@Injectable()
export class SessionCloser {
  private readonly deadlineMs: number;

  constructor(
    private readonly ownership: SessionOwnership,
    private readonly terminals: TerminalDirectory,
    private readonly gateways: GatewayRegistry,
    private readonly gatewayCall: GatewayCall,
    private readonly audit: AuditTrail,
    private readonly fingerprinter: SessionFingerprinter,
    config: AppConfig,
  ) {
    this.deadlineMs = config.values.REQUEST_DEADLINE_MS;
  }

  /** `deadlineAt` (epoch ms): the request's one deadline, counted from its arrival (request-deadline.ts). */
  async close(device: DevicePrincipal, sessionId: string, origin: AuditOrigin, deadlineAt = Date.now() + this.deadlineMs): Promise<void> {
    const started = performance.now();
    const deadline = AbortSignal.timeout(Math.max(1, deadlineAt - Date.now()));
    const sessionFingerprint = this.fingerprinter.fingerprint(sessionId);
    const base: EventBase = { actorType: 'device', actorId: device.deviceId, sessionFingerprint, ...origin };
    const deny = async (error: BrokerError, reason: string, extra: Partial<EventBase> = {}): Promise<never> => {
      await this.audit.record({ ...base, ...extra, action: 'session.close_denied', outcome: 'denied', reason });
      throw error;
    };

    const issued = await this.ownership.issuance(sessionFingerprint);
    // 403 rather than 404 for another device's session tells the caller nothing new: it already
    // holds the sessionId.
    if (!issued) return deny(new NotFoundError('No session with this id was issued by the broker.'), 'session-unknown');
    const terminalNumber = issued.terminalNumber ?? undefined;
    if (issued.deviceId !== device.deviceId) {
      return deny(new ForbiddenError('The session was issued to another device.', 'session-not-owned'), 'session-not-owned', { terminalNumber });
    }
    const event: EventBase = { ...base, terminalNumber };
    const details = { provider: issued.provider };
    const terminal = terminalNumber === undefined ? null : await this.terminals.find(terminalNumber);
    const provider = terminal && terminal.provider === issued.provider ? this.gateways.get(issued.provider) : undefined;
    if (!terminal || !provider) {
      return deny(new ConflictError('The terminal of this session no longer uses the gateway that issued it.'), 'terminal-changed', { terminalNumber });
    }
    const closeSession = provider.gateway.closeSession?.bind(provider.gateway);
    if (!closeSession) {
      return deny(new ConflictError(`Sessions of ${provider.spec.name} expire by themselves; they cannot be closed.`), 'not-closable', { terminalNumber });
    }
    if (await this.ownership.isClosed(sessionFingerprint)) {
      await this.audit.record({ ...event, action: 'session.closed', outcome: 'success', details: { ...details, alreadyClosed: true } });
      return;
    }
    const config = provider.spec.configSchema.safeParse(terminal.providerConfig);
    if (!config.success) {
      await this.audit.record({ ...event, action: 'session.close_failed', outcome: 'failed', reason: 'terminal-misconfigured', details });
      throw new DependencyUnavailableError('The terminal’s gateway configuration is incomplete; the session cannot be closed now.', 30);
    }

    await this.audit.record({ ...event, action: 'session.close_requested', outcome: 'pending', details });
    const tally: CallTally = { attempts: 0 };
    try {
      const gatewayTerminal = { terminalNumber: terminal.terminalNumber, endpointUrl: terminal.endpointUrl, config: config.data as unknown };
      await this.gatewayCall.run(
        terminal,
        deadline,
        (credentials, signal) => closeSession({ terminal: gatewayTerminal, credentials, sessionId, requestId: origin.requestId, signal }),
        tally,
      );
      await this.audit.record({
        ...event,
        action: 'session.closed',
        outcome: 'success',
        latencyMs: performance.now() - started,
        details: { ...details, attempts: tally.attempts },
      });
    } catch (err) {
      if (err instanceof AuditUnavailableError) throw err;
      const error = this.gatewayCall.failure(err, deadline, 'The session could not be closed; retry later.');
      await this.audit.record({
        ...event,
        action: 'session.close_failed',
        outcome: 'failed',
        reason: error.code,
        gatewayResult: error.gatewayResult,
        latencyMs: performance.now() - started,
        details: { ...details, attempts: tally.attempts },
      });
      throw error;
    }
  }
}
