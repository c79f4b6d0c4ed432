import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  bulkhead,
  circuitBreaker,
  handleWhen,
  retry,
  wrap,
  type IPolicy,
} from 'cockatiel';
import { DependencyUnavailableError, GatewayError, GatewayRejectedError, GatewayTimeoutError, GatewayUnavailableError } from '../common/errors';

export interface ResilienceOptions {
  maxAttempts: number;
  baseDelayMs: number;
  /** Consecutive infrastructure failures that open an origin's breaker. */
  breakerThreshold: number;
  /** How long an open breaker fails fast before letting one trial call through (ms). */
  breakerHalfOpenAfterMs: number;
  /** Concurrent calls per origin, and how many more may queue for a slot. */
  bulkheadLimit: number;
  bulkheadQueue: number;
  onBreakerStateChange?: (origin: string, state: 'closed' | 'open' | 'half-open') => void;
  onBulkheadRejected?: (origin: string) => void;
  /** Each attempt's duration and result ('ok' or the error's code). */
  onCall?: (origin: string, seconds: number, result: string) => void;
}

type CallPolicy = IPolicy<{ signal: AbortSignal }>;

/**
 * Per gateway origin: retries (transient failures only, jittered exponential backoff), outside a
 * circuit breaker (opened by consecutive infrastructure failures: unreachable, timeout, 5xx, Hyp
 * 457 — never by a merchant's own refusal such as a wrong password) and a bulkhead capping the
 * concurrent calls. All of it inside the request's one deadline (the signal given to execute).
 * Built on cockatiel, not hand-rolled.
 */
export class GatewayResilience {
  private readonly policies = new Map<string, { policy: CallPolicy; breaker: ReturnType<typeof circuitBreaker> }>();

  constructor(private readonly options: ResilienceOptions) {}

  async execute<T>(endpointUrl: string, deadline: AbortSignal, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const origin = originOf(endpointUrl);
    try {
      return await this.forOrigin(origin).policy.execute(({ signal }) => this.timed(origin, () => call(signal)), deadline);
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        throw new DependencyUnavailableError(
          'The gateway is failing; requests to it are paused. Retry later.',
          Math.ceil(this.options.breakerHalfOpenAfterMs / 1000),
          { cause: err },
        );
      }
      if (err instanceof BulkheadRejectedError) {
        throw new DependencyUnavailableError('Too many calls to the gateway are in flight. Retry shortly.', 1, { cause: err });
      }
      throw err;
    }
  }

  private async timed<T>(origin: string, call: () => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    let result = 'ok';
    try {
      return await call();
    } catch (err) {
      result = err instanceof GatewayError ? err.code : 'error';
      throw err;
    } finally {
      this.options.onCall?.(origin, Number(process.hrtime.bigint() - started) / 1e9, result);
    }
  }

  /** Breaker state per origin, for metrics and readiness. */
  states(): Array<{ origin: string; state: 'closed' | 'open' | 'half-open' }> {
    return [...this.policies.entries()].map(([origin, p]) => ({ origin, state: stateName(p.breaker.state) }));
  }

  private forOrigin(origin: string) {
    let entry = this.policies.get(origin);
    if (entry) return entry;
    const o = this.options;
    const retries = retry(
      handleWhen((err) => err instanceof GatewayError && err.transient),
      { maxAttempts: Math.max(0, o.maxAttempts - 1), backoff: new ExponentialBackoff({ initialDelay: o.baseDelayMs, maxDelay: o.baseDelayMs * 10 }) },
    );
    const breaker = circuitBreaker(handleWhen(isInfrastructureFailure), {
      halfOpenAfter: o.breakerHalfOpenAfterMs,
      breaker: new ConsecutiveBreaker(o.breakerThreshold),
    });
    breaker.onStateChange((state) => o.onBreakerStateChange?.(origin, stateName(state)));
    const limiter = bulkhead(o.bulkheadLimit, o.bulkheadQueue);
    limiter.onReject(() => o.onBulkheadRejected?.(origin));
    entry = { policy: wrap(retries, breaker, limiter) as unknown as CallPolicy, breaker };
    this.policies.set(origin, entry);
    return entry;
  }
}

function isInfrastructureFailure(err: Error): boolean {
  if (err instanceof GatewayUnavailableError || err instanceof GatewayTimeoutError) return true;
  return err instanceof GatewayRejectedError && err.transient;
}

function stateName(state: CircuitState): 'closed' | 'open' | 'half-open' {
  if (state === CircuitState.Open || state === CircuitState.Isolated) return 'open';
  return state === CircuitState.HalfOpen ? 'half-open' : 'closed';
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
