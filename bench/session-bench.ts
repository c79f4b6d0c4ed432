/**
 * `npm run bench` (`-- --quick` for one short round): the whole issuance path under load.
 * The broker runs as in production (compiled, NODE_ENV=production, LOG_LEVEL=info) against the
 * real Postgres; autocannon drives it with pre-signed device JWTs (distinct jti), 100 devices over
 * 20 terminals, 50 connections. The perf anchor (../shared/perf-anchor: the same core work written
 * by hand on bare Fastify) runs in the same invocation with the same connections and durations,
 * against the anchor's gateway stub, which the broker's terminals then call too; the broker's CPU
 * per session and sessions/s are reported as ratios to the anchor's. Without the anchor, the
 * gateway is the Hyp sandbox and the broker is reported alone. The floor is the same form post sent
 * straight to the gateway. Floor, anchor and broker runs alternate, the last two in turn first.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { sign } from 'jsonwebtoken';
import { buildGetSessionIdRequest } from '../src/gateways/hyp/hyp-xml';
import { createFleet, missingIssuedEvents, pgCounters, pointTerminalsAt, type BenchFleet } from './bench-setup';
import { median, runLoad, type RunResult } from './load';
import { startPerfAnchor, type PerfAnchor } from './anchor';
import { productionNodeOptions, startNode, waitForReady, type Proc } from './processes';
import { summariseProfile, type CpuProfile } from './profile-summary';
import { writeBenchmarkSection, type BrokerMemory, type FleetComparison } from './report';
import { startVaultDouble, type VaultDouble } from '../test/support/vault-double';

const quick = process.argv.includes('--quick');
/** `--devices N`: also run a fleet of N devices over FLEET_TERMINALS terminals, compared with the 100-device run. */
const fleetDevices = Number(argValue('--devices') ?? 0);
const FLEET_TERMINALS = 5_000;
const FLEET_PORT = 18084;
const CONNECTIONS = 50;
const DEVICES = 100;
const TERMINALS = 20;
const ROUNDS = quick ? 1 : 3;
const DURATION_S = quick ? 5 : 10;
const WARMUP_S = quick ? 2 : 5;
const AUDIENCE = 'pos-session-broker';
const SCOPE = { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' };
const SANDBOX_PORT = 18081;
const BROKER_PORTS = [18080, 18082];
const ANCHOR_PORTS = { stub: 18091, proto: 18093 };

interface BrokerRun extends RunResult {
  cpuUsPerSession: number;
  commitsPerSession: number;
}

interface AnchorRun extends RunResult {
  cpuUsPerSession: number;
}

let expectedRate = 4000;
/** Request ids of every 201 the load generator received, checked against the audit trail at the end. */
const issuedRequestIds: string[] = [];
/** The same, per database (the fleet run has a database of its own). */
const issuedByDatabase = new Map<string, string[]>();

/** Pre-signed requests, each from a device drawn at random, so that in a large fleet caches miss as they would. */
function requestPool(fleet: BenchFleet, count: number): Array<{ authorization: string; body: string }> {
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: count }, () => {
    const d = fleet.devices[Math.floor(Math.random() * fleet.devices.length)];
    const token = sign({ jti: randomUUID(), iat: now, exp: now + 290 }, d.privateKey, {
      algorithm: 'ES256',
      keyid: d.keyId,
      subject: d.id,
      audience: AUDIENCE,
    });
    return { authorization: `Bearer ${token}`, body: JSON.stringify({ terminalNumber: d.terminal, scope: SCOPE }) };
  });
}

let vault: VaultDouble;

function brokerEnv(fleet: BenchFleet, port: number): Record<string, string> {
  return {
    NODE_ENV: 'production',
    // The production image's V8 settings (docker/Dockerfile).
    NODE_OPTIONS: productionNodeOptions(),
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
    DATABASE_URL: fleet.databaseUrl,
    HYP_DEFAULT_ENDPOINT: 'https://hyp.invalid/xpo/Relay',
    // Production refuses the file secret store: credentials come from (a double of) Vault, as in production.
    SECRETS_PROVIDER: 'vault',
    VAULT_ADDR: vault.url,
    VAULT_TOKEN: vault.rootToken,
    DEVICE_JWT_AUDIENCE: AUDIENCE,
    METRICS_PORT: String(metricsPort(port)),
    // As in production with several instances: rate limits and jti replay refusal shared in Redis.
    REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    // The bench measures cost per session, not the limits: lift them out of the way.
    DEVICE_RATE_LIMIT_PER_MINUTE: '10000000',
    TERMINAL_RATE_LIMIT_PER_MINUTE: '10000000',
    GLOBAL_RATE_LIMIT_PER_SECOND: '10000000',
  };
}

async function brokerRun(label: string, fleet: BenchFleet, broker: Proc, port: number, durationS: number, rate?: number): Promise<BrokerRun> {
  const poolSize = Math.ceil((rate ?? expectedRate) * durationS * 1.6) + 1000;
  const requests = requestPool(fleet, poolSize);
  const cpu0 = broker.cpuSeconds();
  const pg0 = await pgCounters(fleet.databaseUrl, fleet.databaseName);
  const result = await runLoad({
    label,
    url: `http://127.0.0.1:${port}`,
    path: '/v1/sessions',
    connections: CONNECTIONS,
    durationS,
    overallRate: rate,
    okStatus: 201,
    onOk: (body) => {
      const id = (JSON.parse(body) as { requestId: string }).requestId;
      issuedRequestIds.push(id);
      let ids = issuedByDatabase.get(fleet.databaseUrl);
      if (!ids) issuedByDatabase.set(fleet.databaseUrl, (ids = []));
      ids.push(id);
    },
    next: (i) => {
      const r = requests[i % requests.length];
      return { headers: { 'content-type': 'application/json', authorization: r.authorization }, body: r.body };
    },
  });
  const cpu1 = broker.cpuSeconds();
  await new Promise((r) => setTimeout(r, 600)); // let Postgres publish its counters
  const pg1 = await pgCounters(fleet.databaseUrl, fleet.databaseName);
  if (rate === undefined) expectedRate = Math.max(expectedRate, result.perSecond);
  return {
    ...result,
    cpuUsPerSession: ((cpu1 - cpu0) * 1e6) / Math.max(1, result.ok),
    commitsPerSession: (pg1.commits - pg0.commits) / Math.max(1, result.ok),
  };
}

async function anchorRun(label: string, anchor: PerfAnchor, durationS: number, rate?: number): Promise<AnchorRun> {
  const tokens = anchor.tokens(Math.ceil(expectedRate * durationS * 1.6) + 1000);
  const cpu0 = anchor.proto.cpuSeconds();
  const result = await runLoad({
    label,
    url: anchor.url,
    path: '/v1/sessions',
    connections: CONNECTIONS,
    durationS,
    overallRate: rate,
    okStatus: 201,
    next: (i) => ({ headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i % tokens.length]}` }, body: anchor.body }),
  });
  const cpuUsPerSession = ((anchor.proto.cpuSeconds() - cpu0) * 1e6) / Math.max(1, result.ok);
  if (rate === undefined) expectedRate = Math.max(expectedRate, result.perSecond);
  return { ...result, cpuUsPerSession };
}

/** The gateway every run calls: the anchor's stub when the anchor runs, else the Hyp sandbox. */
let gateway: { url: URL; proc: Proc | undefined } = { url: new URL(`http://127.0.0.1:${SANDBOX_PORT}/xpo/Relay`), proc: undefined };

async function floorRun(label: string, fleet: BenchFleet, durationS: number, rate?: number): Promise<RunResult & { sandboxCpuUs: number }> {
  const forms = fleet.terminals.map((t) =>
    new URLSearchParams({
      user: t.user,
      password: t.password,
      int_in: buildGetSessionIdRequest({ terminalNumber: t.number, requestId: randomBytes(12).toString('base64url'), scope: SCOPE }),
    }).toString(),
  );
  const cpu0 = gateway.proc?.cpuSeconds() ?? 0;
  const result = await runLoad({
    label,
    url: gateway.url.origin,
    path: gateway.url.pathname,
    connections: CONNECTIONS,
    durationS,
    overallRate: rate,
    okStatus: 200,
    next: (i) => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: forms[i % forms.length] }),
  });
  // The gateway's own CPU per answer, for scale.
  const sandboxCpuUs = (((gateway.proc?.cpuSeconds() ?? 0) - cpu0) * 1e6) / Math.max(1, result.ok);
  return { ...result, sandboxCpuUs };
}

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'psb-bench-'));
  const fleet = await createFleet(TERMINALS, DEVICES);
  vault = await startVaultDouble({ host: '127.0.0.1' });
  for (const [path, data] of Object.entries(fleet.secrets)) vault.writeSecret('secret', path, data);
  const procs: Proc[] = [];
  let anchor: PerfAnchor | undefined;
  try {
    anchor = await startPerfAnchor(ANCHOR_PORTS, log);
    if (anchor) {
      gateway = { url: new URL(anchor.gatewayUrl), proc: anchor.stub };
    } else {
      const sandbox = startNode('src/sandbox/hyp/main.js', {
        HYP_SANDBOX_PORT: String(SANDBOX_PORT),
        HYP_SANDBOX_TERMINALS: JSON.stringify(Object.fromEntries(fleet.terminals.map((t) => [t.number, { user: t.user, password: t.password }]))),
      });
      procs.push(sandbox);
      gateway = { url: new URL(`http://127.0.0.1:${SANDBOX_PORT}/xpo/Relay`), proc: sandbox };
      await waitForReady(gateway.url.href, 20_000, true);
    }
    await pointTerminalsAt(fleet.databaseUrl, gateway.url.href);
    const broker = startNode('src/main.js', brokerEnv(fleet, BROKER_PORTS[0]));
    procs.push(broker);
    await waitForReady(`http://127.0.0.1:${BROKER_PORTS[0]}/health/ready`);

    log(`warm-up (${WARMUP_S} s each)`);
    await floorRun('warm-up floor', fleet, WARMUP_S);
    if (anchor) await anchorRun('warm-up anchor', anchor, WARMUP_S);
    await brokerRun('warm-up broker', fleet, broker, BROKER_PORTS[0], WARMUP_S);

    const floors: Array<RunResult & { sandboxCpuUs: number }> = [];
    const brokers: BrokerRun[] = [];
    const anchors: AnchorRun[] = [];
    const runAnchor = async (r: number) => {
      if (!anchor) return;
      const a = await anchorRun(`anchor ${r}`, anchor, DURATION_S);
      anchors.push(a);
      log(`${line(a)}, ${fmt(a.cpuUsPerSession, 0)} µs CPU/session`);
    };
    for (let r = 1; r <= ROUNDS; r++) {
      const fl = await floorRun(`floor ${r}`, fleet, DURATION_S);
      floors.push(fl);
      log(`${line(fl)}, gateway ${fmt(fl.sandboxCpuUs, 0)} µs CPU/answer`);
      // Anchor and broker take turns at going first, so neither always meets a warmer machine.
      if (r % 2 === 1) await runAnchor(r);
      const b = await brokerRun(`broker ${r}`, fleet, broker, BROKER_PORTS[0], DURATION_S);
      brokers.push(b);
      log(`${line(b)}, ${fmt(b.cpuUsPerSession, 0)} µs CPU/session, ${fmt(b.commitsPerSession, 3)} commits/session`);
      if (r % 2 === 0) await runAnchor(r);
    }

    // Latency added is judged at half the broker's measured saturation rate, in an open model.
    const openRate = Math.max(50, Math.round(median(brokers.map((b) => b.perSecond)) / 2));
    log(`open model: ${openRate} requests/s (half the broker's closed-loop rate)`);
    const openFloor = await floorRun('open floor', fleet, DURATION_S, openRate);
    log(line(openFloor));
    const openBroker = await brokerRun('open broker', fleet, broker, BROKER_PORTS[0], DURATION_S, openRate);
    log(line(openBroker));
    // The hand-written pipeline at the same rate: what this machine allows the added p99 to be.
    const openAnchor = anchor ? await anchorRun('open anchor', anchor, DURATION_S, openRate) : undefined;
    if (openAnchor) log(line(openAnchor));
    const peakRss = broker.peakRssMiB();

    let scaleOut: { one: number; two: number; cpuUsPerSession: number[] } | undefined;
    let profile: string | undefined;
    if (!quick || process.argv.includes('--profile')) {
      log('profile: one run with --cpu-prof');
      const profDir = join(dir, 'prof');
      const profiled = startNode('src/main.js', brokerEnv(fleet, BROKER_PORTS[1]), ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
      procs.push(profiled);
      await waitForReady(`http://127.0.0.1:${BROKER_PORTS[1]}/health/ready`);
      await brokerRun('profiled', fleet, profiled, BROKER_PORTS[1], DURATION_S);
      await profiled.stop();
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        // Kept for a closer look (Chrome DevTools, speedscope): reports/ is not committed.
        mkdirSync('reports', { recursive: true });
        copyFileSync(join(profDir, file), 'reports/broker.cpuprofile');
      }
      profile = file ? summariseProfile(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile) : 'no profile was written';
      if (process.argv.includes('--profile')) process.stderr.write(`${profile}\n`);
    }
    if (!quick) {
      log('scale-out: two brokers, load split');
      const broker2 = startNode('src/main.js', brokerEnv(fleet, BROKER_PORTS[1]));
      procs.push(broker2);
      await waitForReady(`http://127.0.0.1:${BROKER_PORTS[1]}/health/ready`);
      const [a, b] = await Promise.all([
        brokerRun('scale-out A', fleet, broker, BROKER_PORTS[0], DURATION_S),
        brokerRun('scale-out B', fleet, broker2, BROKER_PORTS[1], DURATION_S),
      ]);
      scaleOut = {
        one: median(brokers.map((x) => x.perSecond)),
        two: a.perSecond + b.perSecond,
        cpuUsPerSession: [a.cpuUsPerSession, b.cpuUsPerSession],
      };
      await broker2.stop();
    }

    let fleetResult: FleetComparison | undefined;
    if (fleetDevices > 0) {
      if (!anchor) log("fleet run skipped: it needs the perf anchor's gateway stub (any terminal, any credentials)");
      else fleetResult = await fleetComparison(fleet, broker, procs, gateway.url.href);
    }

    await new Promise((r) => setTimeout(r, 500));
    let missing = fleetResult?.missing ?? 0;
    for (const [databaseUrl, ids] of issuedByDatabase) missing += await missingIssuedEvents(databaseUrl, ids);
    const issued = issuedRequestIds.length - missing;
    const nonOk = [...brokers, openBroker].reduce((s, b) => s + b.non2xx + b.errors, 0);
    const summary = {
      sessionsPerSecond: median(brokers.map((b) => b.perSecond)),
      floorPerSecond: median(floors.map((f) => f.perSecond)),
      p50: median(brokers.map((b) => b.p50)),
      p95: median(brokers.map((b) => b.p95)),
      p99: median(brokers.map((b) => b.p99)),
      floorP50: median(floors.map((f) => f.p50)),
      floorP99: median(floors.map((f) => f.p99)),
      cpuUs: median(brokers.map((b) => b.cpuUsPerSession)),
      commits: median(brokers.map((b) => b.commitsPerSession)),
      anchorPerSecond: anchors.length ? median(anchors.map((a) => a.perSecond)) : NaN,
      anchorCpuUs: anchors.length ? median(anchors.map((a) => a.cpuUsPerSession)) : NaN,
      openAddedP50: openBroker.p50 - openFloor.p50,
      openAddedP99: openBroker.p99 - openFloor.p99,
      openAnchorAddedP99: openAnchor ? openAnchor.p99 - openFloor.p99 : NaN,
      openAnchor,
      openBroker,
      openFloor,
      peakRss,
      nonOk,
      issued,
      totalOk: issuedRequestIds.length,
    };
    writeBenchmarkSection({
      quick,
      floors,
      brokers,
      anchors,
      summary,
      scaleOut,
      profile,
      fleet: fleetResult,
      anchorFound: anchor !== undefined,
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    });
    const auditOk =
      missing === 0
        ? `all ${issuedRequestIds.length} 201s have their issued audit event`
        : `MISSING: ${missing} of ${issuedRequestIds.length} 201s have no issued audit event`;
    log(auditOk);
    const ratios = anchor
      ? `, ${fmt(summary.cpuUs / summary.anchorCpuUs, 2)}x anchor CPU/session, ${fmt(summary.sessionsPerSecond / summary.anchorPerSecond, 2)}x anchor sessions/s`
      : ', no anchor (../shared/perf-anchor missing)';
    process.stdout.write(
      `bench: ${fmt(summary.sessionsPerSecond, 0)} sessions/s, ${fmt(summary.cpuUs, 0)} µs CPU/session, ${fmt(summary.commits, 3)} commits/session, p99 added ${fmt(summary.openAddedP99, 2)} ms, ${nonOk} non-201${ratios}\n`,
    );
    if (missing !== 0) process.exitCode = 1;
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await anchor?.close();
    await fleet.drop();
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same load on a fleet of `fleetDevices` devices over FLEET_TERMINALS terminals (each request
 * from a random device, so the device-key, terminal and secret caches miss as in a real fleet),
 * interleaved with the 100-device broker, and the memory each broker holds afterwards.
 */
async function fleetComparison(small: BenchFleet, smallBroker: Proc, procs: Proc[], gatewayUrl: string): Promise<FleetComparison> {
  const t0 = Date.now();
  log(`fleet: enrolling ${fleetDevices} devices over ${FLEET_TERMINALS} terminals (bulk SQL)`);
  const large = await createFleet(FLEET_TERMINALS, fleetDevices, '089');
  const enrollSeconds = (Date.now() - t0) / 1000;
  try {
    for (const [path, data] of Object.entries(large.secrets)) vault.writeSecret('secret', path, data);
    await pointTerminalsAt(large.databaseUrl, gatewayUrl);
    const largeBroker = startNode('src/main.js', brokerEnv(large, FLEET_PORT));
    procs.push(largeBroker);
    await waitForReady(`http://127.0.0.1:${FLEET_PORT}/health/ready`);
    await brokerRun('fleet warm-up', large, largeBroker, FLEET_PORT, WARMUP_S);
    const smallRuns: BrokerRun[] = [];
    const largeRuns: BrokerRun[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const s = await brokerRun(`${small.devices.length} devices ${r}`, small, smallBroker, BROKER_PORTS[0], DURATION_S);
      smallRuns.push(s);
      log(`${line(s)}, ${fmt(s.cpuUsPerSession, 0)} µs CPU/session`);
      const l = await brokerRun(`${fleetDevices} devices ${r}`, large, largeBroker, FLEET_PORT, DURATION_S);
      largeRuns.push(l);
      log(`${line(l)}, ${fmt(l.cpuUsPerSession, 0)} µs CPU/session`);
    }
    const memory = {
      small: await brokerMemory(smallBroker, BROKER_PORTS[0]),
      large: await brokerMemory(largeBroker, FLEET_PORT),
    };
    await largeBroker.stop();
    // Checked before the fleet's database goes: every 201 has its issued event there too.
    const missing = await missingIssuedEvents(large.databaseUrl, issuedByDatabase.get(large.databaseUrl) ?? []);
    issuedByDatabase.delete(large.databaseUrl);
    return { devices: fleetDevices, terminals: FLEET_TERMINALS, small: smallRuns, large: largeRuns, memory, enrollSeconds, missing };
  } finally {
    await large.drop();
  }
}

/** Peak RSS from /proc and the V8 heap in use from the broker's own Prometheus metrics. */
async function brokerMemory(proc: Proc, port: number): Promise<BrokerMemory> {
  let heapUsedMiB = NaN;
  for (const url of [`http://127.0.0.1:${metricsPort(port)}/metrics`, `http://127.0.0.1:${port}/metrics`]) {
    try {
      const res = await fetch(url);
      if (!res.ok) continue;
      // Default metrics carry the broker_ prefix (src/metrics/broker-metrics.ts).
      const m = /^broker_nodejs_heap_size_used_bytes (\S+)$/m.exec(await res.text());
      if (m) {
        heapUsedMiB = Number(m[1]) / 2 ** 20;
        break;
      }
    } catch {
      /* metrics served on the other port */
    }
  }
  return { peakRssMiB: proc.peakRssMiB(), heapUsedMiB };
}

function metricsPort(port: number): number {
  return port + 100;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function line(r: RunResult): string {
  return `${r.label}: ${fmt(r.perSecond, 0)}/s, p50 ${fmt(r.p50, 2)} ms, p95 ${fmt(r.p95, 2)} ms, p99 ${fmt(r.p99, 2)} ms, ${r.non2xx + r.errors} not ok`;
}

function log(s: string): void {
  process.stderr.write(`[bench] ${s}\n`);
}

void main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
