import { Injectable } from '@nestjs/common';
import { BrokerError, DependencyUnavailableError, GatewayRejectedError, GatewayTimeoutError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { SecretsProvider } from '../secrets/secrets-provider';
import type { GatewayCredentials } from './gateway-provider';
import { REJECTIONS } from './gateway-rejections';
import { GatewayResilience } from './gateway-resilience';

/** Where a terminal's gateway is and which secret holds its merchant credentials. */
export interface GatewayTarget {
  readonly endpointUrl: string;
  readonly credentialRef: string;
}

/** How many times the gateway was asked (retries and the one re-read included), for the audit event. */
export interface CallTally {
  attempts: number;
}

/**
 * The one way the broker calls a terminal's gateway, whatever the operation (issue, close): the
 * merchant's credentials from the secret store, the resilience policy (retries, breaker, bulkhead)
 * within the request's deadline, the secret read again once when the gateway says the merchant
 * authentication failed (it may have been rotated since it was cached), and every failure mapped
 * to a BrokerError the device can be shown.
 */
@Injectable()
export class GatewayCall {
  private readonly deadlineMs: number;

  constructor(
    private readonly secrets: SecretsProvider,
    private readonly resilience: GatewayResilience,
    config: AppConfig,
  ) {
    this.deadlineMs = config.values.REQUEST_DEADLINE_MS;
  }

  async run<T>(
    target: GatewayTarget,
    deadline: AbortSignal,
    call: (credentials: GatewayCredentials, signal: AbortSignal) => Promise<T>,
    tally: CallTally = { attempts: 0 },
  ): Promise<T> {
    const ask = (credentials: GatewayCredentials) =>
      this.resilience.execute(target.endpointUrl, deadline, (signal) => {
        tally.attempts++;
        return call(credentials, signal);
      });
    const credentials = await this.secrets.get(target.credentialRef);
    try {
      return await ask(credentials);
    } catch (err) {
      if (!(err instanceof GatewayRejectedError) || err.code !== REJECTIONS.merchantAuth.code) throw err;
      const fresh = await this.secrets.refresh(target.credentialRef);
      if (sameCredentials(fresh, credentials)) throw err;
      return ask(fresh);
    }
  }

  /**
   * What the device is told about `err` from run(): broker errors as they are, the deadline's
   * expiry whatever was in flight at that moment, anything else as unavailable with `detail`.
   */
  failure(err: unknown, deadline: AbortSignal, detail: string): BrokerError {
    if (err instanceof BrokerError) return err;
    if (deadline.aborted) return new GatewayTimeoutError(`The gateway did not answer within ${this.deadlineMs} ms.`, { cause: err });
    return new DependencyUnavailableError(detail, 5, { cause: err });
  }
}

function sameCredentials(a: GatewayCredentials, b: GatewayCredentials): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
