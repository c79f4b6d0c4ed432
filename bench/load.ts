import autocannon from 'autocannon';

export interface RunResult {
  label: string;
  durationS: number;
  ok: number;
  non2xx: number;
  errors: number;
  perSecond: number;
  /** Milliseconds, measured per request (closed loop) or by autocannon with CO correction (open model). */
  p50: number;
  p95: number;
  p99: number;
}

export interface LoadSpec {
  label: string;
  url: string;
  path: string;
  connections: number;
  durationS: number;
  /** Fixed arrival rate (open model); closed loop when absent. */
  overallRate?: number;
  /** Builds the i-th request. */
  next: (i: number) => { headers: Record<string, string>; body: string };
  okStatus: number;
  /** Called with the body of every OK answer (e.g. to collect request ids). */
  onOk?: (body: string) => void;
}

/** Drives one target with autocannon; latencies per request, percentiles computed here. */
export function runLoad(spec: LoadSpec): Promise<RunResult> {
  const samples: number[] = [];
  let n = 0;
  let ok = 0;
  let non2xx = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationS,
        overallRate: spec.overallRate,
        requests: [
          {
            method: 'POST',
            path: spec.path,
            setupRequest: (req: Record<string, unknown>, context: Record<string, unknown>) => {
              const r = spec.next(n++);
              context.sentAt = process.hrtime.bigint();
              return { ...req, headers: r.headers, body: r.body };
            },
            onResponse: (status: number, body: string, context: Record<string, unknown>) => {
              samples.push(Number(process.hrtime.bigint() - (context.sentAt as bigint)) / 1e6);
              if (status === spec.okStatus) {
                ok++;
                spec.onOk?.(body);
              } else non2xx++;
            },
          },
        ],
      } as unknown as autocannon.Options,
      (err, result) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        samples.sort((a, b) => a - b);
        const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] ?? NaN;
        const openModel = spec.overallRate !== undefined;
        resolve({
          label: spec.label,
          durationS: spec.durationS,
          ok,
          non2xx,
          errors: result.errors + result.timeouts,
          perSecond: ok / spec.durationS,
          // Under a fixed arrival rate autocannon corrects for coordinated omission; use its figures.
          p50: openModel ? result.latency.p50 : pct(50),
          p95: pct(95),
          p99: openModel ? result.latency.p99 : pct(99),
        });
      },
    );
  });
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
