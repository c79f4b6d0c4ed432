import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, type RunResult } from './load';

const START = '<!-- session-bench:start -->';
const END = '<!-- session-bench:end -->';
const FILE = join(__dirname, '..', '..', 'BENCHMARKS.md');

interface Report {
  quick: boolean;
  machine: string;
  floors: RunResult[];
  brokers: Array<RunResult & { cpuUsPerSession: number; commitsPerSession: number }>;
  anchors: Array<RunResult & { cpuUsPerSession: number }>;
  /** false when ../shared/perf-anchor was missing: no ratios. */
  anchorFound: boolean;
  summary: {
    sessionsPerSecond: number;
    floorPerSecond: number;
    p50: number;
    p95: number;
    p99: number;
    floorP50: number;
    floorP99: number;
    cpuUs: number;
    commits: number;
    anchorPerSecond: number;
    anchorCpuUs: number;
    openAddedP50: number;
    openAddedP99: number;
    /** The anchor at the broker's open-model rate: its p99 over the direct call (NaN without the anchor). */
    openAnchorAddedP99: number;
    openAnchor?: RunResult;
    openBroker: RunResult;
    openFloor: RunResult;
    peakRss: number;
    nonOk: number;
    issued: number;
    totalOk: number;
  };
  scaleOut?: { one: number; two: number; cpuUsPerSession: number[] };
  fleet?: FleetComparison;
  profile?: string;
}

export interface FleetComparison {
  devices: number;
  terminals: number;
  /** Interleaved runs: the 100-device broker and the fleet broker, same rounds. */
  small: Array<RunResult & { cpuUsPerSession: number }>;
  large: Array<RunResult & { cpuUsPerSession: number }>;
  memory: { small: BrokerMemory; large: BrokerMemory };
  enrollSeconds: number;
  /** 201s of the fleet run without their `session.issued` event. */
  missing: number;
}

export interface BrokerMemory {
  peakRssMiB: number;
  heapUsedMiB: number;
}

const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

/** Replaces the session-issuance section of BENCHMARKS.md (other sections are left alone). */
export function writeBenchmarkSection(r: Report): void {
  const s = r.summary;
  const runs = [...r.floors, ...r.anchors, ...r.brokers]
    .map(
      (x) =>
        `| ${x.label} | ${f(x.perSecond, 0)} | ${f(x.p50, 2)} | ${f(x.p95, 2)} | ${f(x.p99, 2)} | ${x.non2xx + x.errors} | ${'cpuUsPerSession' in x ? f((x as { cpuUsPerSession: number }).cpuUsPerSession, 0) : ''} | ${'commitsPerSession' in x ? f((x as { commitsPerSession: number }).commitsPerSession, 3) : ''} |`,
    )
    .join('\n');
  const section = [
    START,
    '## Session issuance (`npm run bench`)',
    '',
    `Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` (written by the run itself, ${new Date().toISOString()}).`,
    `Machine: ${r.machine}; load generator, broker, sandbox and Postgres share it.`,
    'Broker: compiled, `NODE_ENV=production`, `LOG_LEVEL=info` (one log line per request), real Postgres, Redis for limits and jti, audit durable before the reply;',
    r.anchorFound
      ? "gateway: the perf anchor's stub on loopback (no delay), called by the broker, the anchor and the floor alike."
      : 'gateway: the Hyp sandbox on loopback (no delay); **the perf anchor (../shared/perf-anchor) was missing, so there are no ratios**.',
    `100 devices over 20 terminals, 50 connections, pre-signed ES256 JWTs with distinct jti; floor, anchor and broker runs alternate (${r.brokers.length} each, medians quoted).`,
    '',
    '| figure | value | target |',
    '| --- | --- | --- |',
    `| broker CPU per issued session ÷ anchor's, same run | ${r.anchorFound ? `${f(s.cpuUs / s.anchorCpuUs, 2)}× (${f(s.cpuUs, 0)} vs ${f(s.anchorCpuUs, 0)} µs)` : 'n/a'} | ≤ 2.0× (stretch 1.5×) |`,
    `| broker sessions/s ÷ anchor's, same run | ${r.anchorFound ? `${f(s.sessionsPerSecond / s.anchorPerSecond, 2)}× (${f(s.sessionsPerSecond, 0)} vs ${f(s.anchorPerSecond, 0)}/s)` : 'n/a'} | ≥ 0.5× |`,
    `| sessions/s through the broker (median) | ${f(s.sessionsPerSecond, 0)} | — |`,
    `| floor: getSessionId straight to the gateway, requests/s | ${f(s.floorPerSecond, 0)} | — |`,
    `| broker latency p50 / p95 / p99 (closed loop) | ${f(s.p50, 2)} / ${f(s.p95, 2)} / ${f(s.p99, 2)} ms | — |`,
    `| latency added over the direct call, closed loop p50 / p99 | ${f(s.p50 - s.floorP50, 2)} / ${f(s.p99 - s.floorP99, 2)} ms | — |`,
    `| latency added at ${f(s.openBroker.perSecond, 0)} sessions/s, half the broker's saturation (open model) p50 / p99 | ${f(s.openAddedP50, 2)} / ${f(s.openAddedP99, 2)} ms | p99 ≤ 5 ms |`,
    `| the anchor at the same rate (open model): p99 added | ${s.openAnchor ? `${f(s.openAnchorAddedP99, 2)} ms` : 'n/a'} | — |`,
    `| broker CPU per issued session | ${f(s.cpuUs, 0)} µs | — |`,
    `| Postgres commits per issued session | ${f(s.commits, 3)} | ≤ 0.2 |`,
    `| broker peak RSS | ${f(s.peakRss, 0)} MiB | — |`,
    `| answers other than 201 | ${s.nonOk} | 0 |`,
    `| 201s vs \`session.issued\` audit events after the run | ${s.totalOk} vs ${s.issued} | equal |`,
    '',
    '| run | per s | p50 ms | p95 ms | p99 ms | not ok | µs CPU/session | commits/session |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    runs,
    `| open floor | ${f(s.openFloor.perSecond, 0)} | ${f(s.openFloor.p50, 2)} | | ${f(s.openFloor.p99, 2)} | ${s.openFloor.non2xx} | | |`,
    `| open broker | ${f(s.openBroker.perSecond, 0)} | ${f(s.openBroker.p50, 2)} | | ${f(s.openBroker.p99, 2)} | ${s.openBroker.non2xx} | | |`,
    ...(s.openAnchor
      ? [`| open anchor | ${f(s.openAnchor.perSecond, 0)} | ${f(s.openAnchor.p50, 2)} | | ${f(s.openAnchor.p99, 2)} | ${s.openAnchor.non2xx} | | |`]
      : []),
    '',
    r.scaleOut
      ? `Scale-out: one broker ${f(r.scaleOut.one, 0)} sessions/s, two brokers (same machine, load split over two ports) ${f(r.scaleOut.two, 0)} sessions/s (${f(r.scaleOut.two / r.scaleOut.one, 2)}×)` +
        (r.anchorFound
          ? `; two brokers ÷ one anchor ${f(r.scaleOut.two / s.anchorPerSecond, 2)}× sessions/s, CPU per session of each instance ÷ anchor's ${r.scaleOut.cpuUsPerSession.map((c) => `${f(c / s.anchorCpuUs, 2)}×`).join(' and ')}.`
          : '.')
      : 'Scale-out and profile: run the full `npm run bench` (the quick run skips them).',
    '',
    r.fleet ? fleetSection(r.fleet) : 'Fleet scale: run with `-- --devices 100000` to compare a 100,000-device fleet with the 100-device run.',
    '',
    r.profile ? `### Profile of the broker under load (\`--cpu-prof\`)\n\n${r.profile}` : '',
    END,
  ].join('\n');
  const current = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '# Benchmarks\n';
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  const next = start >= 0 && end > start ? current.slice(0, start) + section + current.slice(end + END.length) : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(FILE, next);
}

function fleetSection(fl: FleetComparison): string {
  const row = (label: string, runs: FleetComparison['small'], mem: FleetComparison['memory']['small']) =>
    `| ${label} | ${f(median(runs.map((x) => x.perSecond)), 0)} | ${f(median(runs.map((x) => x.cpuUsPerSession)), 0)} | ${f(median(runs.map((x) => x.p99)), 2)} | ${runs.reduce((n, x) => n + x.non2xx + x.errors, 0)} | ${f(mem.peakRssMiB, 0)} | ${f(mem.heapUsedMiB, 0)} |`;
  const smallDevices = fl.small[0]?.label.split(' ')[0] ?? '100';
  return [
    `### Fleet scale: ${fl.devices.toLocaleString('en')} devices over ${fl.terminals.toLocaleString('en')} terminals`,
    '',
    `Enrolled in ${f(fl.enrollSeconds, 1)} s (bulk SQL). Each request comes from a device drawn at random, so the device-key, terminal`,
    `and secret caches miss as in a real fleet. Runs interleaved with the ${smallDevices}-device broker (${fl.small.length} each, medians).`,
    '',
    '| fleet | sessions/s | µs CPU/session | p99 ms | not ok | peak RSS MiB | V8 heap in use MiB |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row(`${smallDevices} devices`, fl.small, fl.memory.small),
    row(`${fl.devices.toLocaleString('en')} devices`, fl.large, fl.memory.large),
    '',
    'Cache bounds: device keys/status/bindings and terminals are each an LRU of at most 100,000 entries living',
    '`DEVICE_CACHE_TTL_MS` (src/common/ttl-cache.ts); merchant secrets hold one entry per credential reference in use, dropped',
    'once older than `VAULT_MAX_STALENESS_MS` unless used (src/secrets/vault/vault-secrets.provider.ts). The heap in use is',
    'one reading after the runs (it includes garbage not yet collected, so it can be lower for the larger fleet); the peak RSS',
    'difference between the two brokers is the better bound on what the caches of the larger fleet hold.',
  ].join('\n');
}
