import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const BREAKER_STATE = { closed: 0, 'half-open': 1, open: 2 } as const;

/** Every Prometheus metric of the service, on one registry (no global state across app instances). */
@Injectable()
export class BrokerMetrics {
  readonly registry = new Registry();

  readonly issuances = new Counter({
    name: 'broker_session_requests_total',
    help: 'Session requests by final outcome (issued, denied, failed), terminal and gateway result code.',
    labelNames: ['outcome', 'terminal', 'gateway_result'] as const,
    registers: [this.registry],
  });

  readonly gatewayLatency = new Histogram({
    name: 'broker_gateway_call_duration_seconds',
    help: 'Duration of each outbound gateway call (each retry attempt counts once).',
    labelNames: ['origin', 'result'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly auditFlush = new Histogram({
    name: 'broker_audit_flush_duration_seconds',
    help: 'Duration of one group-committed audit INSERT.',
    labelNames: ['result'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  readonly auditBatchSize = new Histogram({
    name: 'broker_audit_batch_events',
    help: 'Events written per audit group commit.',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers: [this.registry],
  });

  readonly breakerState = new Gauge({
    name: 'broker_gateway_breaker_state',
    help: 'Circuit breaker per gateway origin: 0 closed, 1 half-open, 2 open.',
    labelNames: ['origin'] as const,
    registers: [this.registry],
  });

  readonly bulkheadRejections = new Counter({
    name: 'broker_gateway_bulkhead_rejections_total',
    help: 'Calls refused because the per-origin concurrency cap and its queue were full.',
    labelNames: ['origin'] as const,
    registers: [this.registry],
  });

  readonly rateLimitRejections = new Counter({
    name: 'broker_rate_limit_rejections_total',
    help: 'Requests refused with 429, by limit.',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  /**
   * Terminal numbers seen in the terminal registry. Denials carry whatever number the caller sent;
   * labelling those would let anyone create series without bound, so only these get their own label.
   */
  private readonly knownTerminals = new Set<string>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'broker_' });
  }

  /** A terminal number found in the registry (bounded by the terminals that exist). */
  knowTerminal(terminalNumber: string): void {
    this.knownTerminals.add(terminalNumber);
  }

  /** The `terminal` label for a number: itself if it is a known terminal, `unknown` if not, `none` if absent. */
  terminalLabel(terminalNumber: string | null | undefined): string {
    if (terminalNumber === undefined || terminalNumber === null) return 'none';
    return this.knownTerminals.has(terminalNumber) ? terminalNumber : 'unknown';
  }

  setBreakerState(origin: string, state: keyof typeof BREAKER_STATE): void {
    this.breakerState.set({ origin }, BREAKER_STATE[state]);
  }
}
