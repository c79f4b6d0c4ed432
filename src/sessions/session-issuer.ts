import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import type { AuditOrigin } from '../audit/audit-event';
import { AuditTrail } from '../audit/audit-trail';
import { SessionFingerprinter } from '../audit/session-fingerprint';
import {
  AuditUnavailableError,
  BrokerError,
  DependencyUnavailableError,
  ForbiddenError,
  GatewayRejectedError,
  ValidationError,
} from '../common/errors';
import { AppConfig } from '../config/app-config';
import type { DevicePrincipal } from '../devices/device';
import type { GatewayCredentials } from '../gateways/gateway-provider';
import { GatewayRegistry } from '../gateways/gateway-registry';
import { SecretsProvider } from '../secrets/secrets-provider';
import { TerminalDirectory } from '../terminals/terminal-directory';
import { deadlineExceeded, GatewayResilience } from './gateway-call';
import type { HypScope } from './hyp-scope.schema';
import { scopeFitsPolicy } from './scope-policy';
import type { SessionRequest } from './session-request.schema';

export interface IssuedSession {
  readonly sessionId: string;
  readonly expiresAt: string;
  readonly expiresIn: number;
  readonly reusable: boolean;
  readonly terminalNumber: string;
  readonly scope: HypScope | null;
  readonly requestId: string;
}

/**
 * The rules of POST /v1/sessions: which terminal, is the scope allowed, record the attempt,
 * fetch the merchant's credentials, ask the gateway (retrying what is transient, within one
 * deadline), record the outcome, and only then hand the sessionId out. Fails closed on audit.
 */
@Injectable()
export class SessionIssuer {
  private readonly deadlineMs: number;

  constructor(
    private readonly terminals: TerminalDirectory,
    private readonly gateways: GatewayRegistry,
    private readonly secrets: SecretsProvider,
    private readonly audit: AuditTrail,
    private readonly fingerprinter: SessionFingerprinter,
    private readonly resilience: GatewayResilience,
    config: AppConfig,
  ) {
    this.deadlineMs = config.values.REQUEST_DEADLINE_MS;
  }

  async issue(device: DevicePrincipal, request: SessionRequest, origin: AuditOrigin): Promise<IssuedSession> {
    const started = performance.now();
    const deadline = AbortSignal.timeout(this.deadlineMs);
    const scope = request.scope && request.scope.command !== undefined ? request.scope : undefined;
    const terminalNumber = request.terminalNumber ?? soleTerminal(device);
    const event = {
      actorType: 'device' as const,
      actorId: device.deviceId,
      terminalNumber,
      scope: scope ?? null,
      ...origin,
    };
    const deny = async (error: BrokerError & { reason?: string }, reason: string): Promise<never> => {
      await this.record({ ...event, action: 'session.denied', outcome: 'denied', reason });
      throw error;
    };

    if (terminalNumber === undefined) {
      return deny(
        new ValidationError('terminalNumber is required: the device is bound to more than one terminal.'),
        'terminal-ambiguous',
      );
    }
    if (!device.terminalNumbers.includes(terminalNumber)) {
      return deny(new ForbiddenError('The device is not bound to this terminal.', 'terminal-not-bound'), 'terminal-not-bound');
    }
    const terminal = await this.terminals.find(terminalNumber);
    if (!terminal || !terminal.enabled) {
      return deny(new ForbiddenError('The terminal is not enabled.', 'terminal-disabled'), 'terminal-disabled');
    }
    if (!scopeFitsPolicy(device.policy, scope)) {
      return deny(
        new ForbiddenError('The requested scope is outside the device policy.', 'scope-not-permitted'),
        'scope-not-permitted',
      );
    }
    const provider = this.gateways.get(terminal.provider);

    // Recorded before the gateway call: a crash mid-call still leaves a trace.
    await this.record({ ...event, action: 'session.requested', outcome: 'pending', details: { provider: terminal.provider } });

    let attempts = 0;
    try {
      if (!provider) throw new DependencyUnavailableError('The terminal’s gateway is not available.', 30);
      const ask = (credentials: GatewayCredentials) =>
        this.resilience.execute(terminal.endpointUrl, deadline, (signal) => {
          attempts++;
          return provider.createSession({ terminal, credentials, scope, requestId: origin.requestId, signal });
        });
      const credentials = await this.secrets.get(terminal.credentialRef);
      const session = await ask(credentials).catch(async (err: unknown) => {
        // The password may have been rotated since it was cached: read it again, once.
        if (!(err instanceof GatewayRejectedError) || err.code !== MERCHANT_AUTH_FAILED) throw err;
        const fresh = await this.secrets.refresh(terminal.credentialRef);
        if (sameCredentials(fresh, credentials)) throw err;
        return ask(fresh);
      });
      const latencyMs = performance.now() - started;
      await this.record({
        ...event,
        action: 'session.issued',
        outcome: 'issued',
        gatewayResult: session.resultCode,
        gatewayTranId: session.gatewayReference,
        latencyMs,
        sessionFingerprint: this.fingerprinter.fingerprint(session.sessionId),
        details: { attempts, expiresIn: session.expiresIn, reusable: session.reusable },
      });
      return {
        sessionId: session.sessionId,
        expiresAt: new Date(Date.now() + session.expiresIn * 1000).toISOString(),
        expiresIn: session.expiresIn,
        reusable: session.reusable,
        terminalNumber,
        scope: scope ?? null,
        requestId: origin.requestId,
      };
    } catch (err) {
      if (err instanceof AuditUnavailableError) throw err;
      const error =
        err instanceof BrokerError ? err : deadline.aborted ? deadlineExceeded(this.deadlineMs, err) : toBrokerError(err);
      await this.record({
        ...event,
        action: 'session.failed',
        outcome: 'failed',
        reason: error.code,
        gatewayResult: error.gatewayResult,
        latencyMs: performance.now() - started,
        details: { attempts },
      });
      throw error;
    }
  }

  private async record(e: Parameters<AuditTrail['record']>[0]): Promise<void> {
    await this.audit.record(e);
  }
}

const MERCHANT_AUTH_FAILED = 'gateway-merchant-auth-failed';

function sameCredentials(a: GatewayCredentials, b: GatewayCredentials): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function soleTerminal(device: DevicePrincipal): string | undefined {
  return device.terminalNumbers.length === 1 ? device.terminalNumbers[0] : undefined;
}

function toBrokerError(err: unknown): BrokerError {
  if (err instanceof BrokerError) return err;
  return new DependencyUnavailableError('The session could not be created; retry later.', 5, { cause: err });
}
