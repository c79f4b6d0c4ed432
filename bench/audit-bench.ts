/**
 * `npm run bench:audit` (`-- --events N` for another size than 5,000,000): the auditor API
 * against a Postgres holding millions of events. Seeds a synthetic history with SQL
 * (generate_series) into a database of its own, starts the compiled broker (`node dist/src/main.js`)
 * against it, lets its background sealer seal everything, then measures over HTTP: filtered first
 * pages and deep cursor pages, CSV/NDJSON export throughput with the broker's RSS sampled during
 * the export, and verify throughput. Results go to the "Audit trail" section of BENCHMARKS.md;
 * the database is dropped at the end.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { encodeCursor } from '../src/audit/query/audit-cursor';
import { AUDIT_COLUMNS, INSERT_AUDIT_BATCH, toAuditRow } from '../src/audit/audit-row';
import { type AuditBenchDb, createAuditBenchDb, occurredAtOf, SEED_SQL, terminalNumber } from './audit-seed';
import { benchOperatorAuth, type BenchOperatorAuth } from './audit-bench-auth';
import { startNode, waitForReady, type Proc } from './processes';

const EVENTS = Number(argValue('--events') ?? 5_000_000);
const PORT = Number(argValue('--port') ?? 18_180);
const SAMPLES = 200;
const STATS_SAMPLES = 30;
const SEED_CHUNK = 250_000;
const BASE = `http://127.0.0.1:${PORT}`;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const log = (m: string) => process.stderr.write(`[bench:audit] ${m}\n`);
const f = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Seeds in parallel ranges (one connection per core), so the seeding takes about a minute per 2.5M on 2 cores. */
async function seed(db: AuditBenchDb, events: number): Promise<number> {
  const started = Date.now();
  const chunks: Array<[number, number]> = [];
  for (let lo = 0; lo < events; lo += SEED_CHUNK) chunks.push([lo, Math.min(events, lo + SEED_CHUNK) - 1]);
  const { Client } = await import('pg');
  const workers = Array.from({ length: Math.max(1, cpus().length) }, async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      for (let chunk = chunks.shift(); chunk; chunk = chunks.shift()) {
        await c.query(SEED_SQL, chunk);
        log(`seeded events ${chunk[0]}..${chunk[1]}`);
      }
    } finally {
      await c.end();
    }
  });
  await Promise.all(workers);
  log('VACUUM ANALYZE');
  await db.client.query('VACUUM ANALYZE audit_event');
  return (Date.now() - started) / 1000;
}

interface Timed {
  label: string;
  p50: number;
  p95: number;
  max: number;
  rows: number;
}

async function get(path: string, token: string): Promise<{ status: number; body: string }> {
  const res = await request(`${BASE}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: await res.body.text() };
}

/**
 * SAMPLES sequential requests (closed loop, one connection); `pathFor(i)` varies the parameters.
 * `rowsOf`: the rows an answer holds (events of a page by default; buckets of a stats answer).
 */
async function latency(
  label: string,
  auth: BenchOperatorAuth,
  pathFor: (i: number) => string,
  rowsOf: (body: string) => number = (body) => (JSON.parse(body) as { events: unknown[] }).events.length,
  samplesWanted = SAMPLES,
  warmUp = 10,
): Promise<Timed> {
  const samples: number[] = [];
  let rows = 0;
  for (let i = 0; i < samplesWanted + warmUp; i++) {
    const t0 = performance.now();
    const res = await get(pathFor(i), auth.token());
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${label}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
    if (i >= warmUp) {
      samples.push(ms);
      rows += rowsOf(res.body);
    }
  }
  const result = { label, p50: pct(samples, 50), p95: pct(samples, 95), max: Math.max(...samples), rows: rows / samplesWanted };
  log(`${label}: p50 ${f(result.p50)} ms, p95 ${f(result.p95)} ms, max ${f(result.max)} ms, ${f(result.rows, 0)} rows/answer`);
  return result;
}

interface ExportRun {
  label: string;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  mib: number;
  rssBefore: number;
  /** Peak RSS while the first and the second half of the rows were streamed: equal when memory is flat. */
  rssPeakFirstHalf: number;
  rssPeakSecondHalf: number;
}

async function exportRun(
  label: string,
  auth: BenchOperatorAuth,
  broker: Proc,
  query: string,
  format: 'csv' | 'ndjson',
  expectedRows: number,
): Promise<ExportRun> {
  const pid = broker.child.pid as number;
  const rssBefore = rssMiB(pid);
  const peaks = [rssBefore, rssBefore];
  let lines = 0;
  const sampler = setInterval(() => {
    const half = lines < expectedRows / 2 ? 0 : 1;
    peaks[half] = Math.max(peaks[half], rssMiB(pid));
  }, 20);
  const t0 = performance.now();
  const res = await request(`${BASE}/v1/audit/events/export?format=${format}&${query}`, { headers: { authorization: `Bearer ${auth.token()}` } });
  if (res.statusCode !== 200) throw new Error(`${label}: HTTP ${res.statusCode} ${await res.body.text()}`);
  let bytes = 0;
  for await (const chunk of res.body) {
    const b = chunk as Buffer;
    bytes += b.length;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) lines++;
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const rows = format === 'csv' ? lines - 1 : lines;
  const run = { label, rows, seconds, rowsPerSecond: rows / seconds, mib: bytes / 2 ** 20, rssBefore, rssPeakFirstHalf: peaks[0], rssPeakSecondHalf: peaks[1] };
  log(
    `${label}: ${rows} rows in ${f(seconds, 2)} s = ${f(run.rowsPerSecond, 0)} rows/s, ${f(run.mib)} MiB; broker RSS ${f(rssBefore, 0)} MiB, ` +
      `peak ${f(peaks[0], 0)} MiB in the first half, ${f(peaks[1], 0)} MiB in the second`,
  );
  return run;
}

async function waitForSeals(db: AuditBenchDb, lastId: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { rows } = await db.client.query<{ last: string | null }>('SELECT max(last_event_id)::text AS last FROM audit_seal');
    if (rows[0].last !== null && BigInt(rows[0].last) >= BigInt(lastId)) return (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'psb-audit-bench-'));
  log(`creating database, seeding ${EVENTS} events`);
  const loadAtStart = loadavg()[0];
  const db = await createAuditBenchDb();
  let broker: Proc | undefined;
  try {
    const seedSeconds = await seed(db, EVENTS);
    const { rows: idRows } = await db.client.query<{ first: string; last: string }>('SELECT min(id)::text AS first, max(id)::text AS last FROM audit_event');
    const { rows: sizeRows } = await db.client.query<{ size: string }>(
      `SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) AS size FROM pg_partition_tree('audit_event')`,
    );
    log(`seeded in ${f(seedSeconds, 0)} s; audit_event with indexes: ${sizeRows[0].size}`);

    const auth = benchOperatorAuth();
    const secretsFile = join(dir, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify({ 'broker/audit-fingerprint-key': { key: randomBytes(32).toString('base64') } }), { mode: 0o600 });
    broker = startNode('src/main.js', {
      // Same compiled code as production; NODE_ENV=production would only add start-up refusals,
      // one of which insists on Vault for the secret store, which this bench does not stand up.
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(PORT),
      LOG_LEVEL: 'warn',
      DATABASE_URL: db.url,
      HYP_DEFAULT_ENDPOINT: 'https://hyp.invalid/xpo/Relay',
      SECRETS_FILE: secretsFile,
      AUDIT_SEAL_INTERVAL_MS: '1000',
      AUDIT_SEAL_SETTLE_MS: '0',
      // Exports and verify over millions of rows at 20M: no single statement should be cut at 15 s.
      DATABASE_STATEMENT_TIMEOUT_MS: '600000',
      DATABASE_QUERY_TIMEOUT_MS: '660000',
      ...auth.env,
    });
    await waitForReady(`${BASE}/health/ready`, 60_000);

    log('waiting for the broker’s background sealer to seal every event');
    const sealSeconds = await waitForSeals(db, idRows[0].last);
    const sealRate = EVENTS / sealSeconds;
    log(`sealed ${EVENTS} events in ${f(sealSeconds, 1)} s = ${f(sealRate, 0)} events/s`);

    // Positions for deep pages: half-way through the history, and deep in one terminal's events.
    const middle = Math.floor(EVENTS / 2);
    const { rows: deepTerminalRows } = await db.client.query<{ at: string; id: string }>(
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, id::text FROM audit_event
        WHERE terminal_number = $1 ORDER BY occurred_at DESC, id DESC OFFSET $2 LIMIT 1`,
      [terminalNumber(17), Math.floor(EVENTS / 200 / 2)],
    );
    const deepAll = encodeCursor({ occurredAt: occurredAtOf(middle).toISOString(), id: String(BigInt(idRows[0].first) + BigInt(middle)) }, {});
    const week = 7 * 86_400_000;
    const lastAt = occurredAtOf(EVENTS - 1).getTime();
    const weekFrom = new Date(lastAt - week).toISOString();

    const pages: Timed[] = [];
    pages.push(await latency('first page, terminal filter (limit 100)', auth, (i) => `/v1/audit/events?terminalNumber=${terminalNumber(i * 7)}&limit=100`));
    pages.push(
      await latency(
        'first page, terminal + outcome=failed + last 7 days (limit 100)',
        auth,
        (i) => `/v1/audit/events?terminalNumber=${terminalNumber(i * 7)}&outcome=failed&from=${encodeURIComponent(weekFrom)}&limit=100`,
      ),
    );
    pages.push(await latency('first page, gatewayResult=457 (limit 100)', auth, () => `/v1/audit/events?gatewayResult=457&limit=100`));
    pages.push(await latency('first page, action=auth.refused (limit 100)', auth, () => `/v1/audit/events?action=auth.refused&limit=100`));
    pages.push(await latency('first page, device filter (limit 100)', auth, (i) => `/v1/audit/events?deviceId=${deviceId(i)}&limit=100`));
    pages.push(await latency('deep cursor page, no filter, half-way through (limit 500)', auth, () => `/v1/audit/events?limit=500&cursor=${deepAll}`));
    const terminalFilter = { terminalNumber: terminalNumber(17) };
    const deepTerminal = encodeCursor({ occurredAt: deepTerminalRows[0].at, id: deepTerminalRows[0].id }, terminalFilter);
    pages.push(
      await latency(
        'deep cursor page, terminal filter, half-way through its events (limit 100)',
        auth,
        () => `/v1/audit/events?terminalNumber=${terminalFilter.terminalNumber}&limit=100&cursor=${deepTerminal}`,
      ),
    );

    // The Activity screen's queries (GET /v1/audit/stats): counts per bucket, computed over the window's events.
    const bucketsOf = (body: string) => (JSON.parse(body) as { buckets: unknown[] }).buckets.length;
    // Fewer samples than the pages: a stats answer aggregates a whole window (hundreds of ms).
    const statsLatency = (label: string, pathFor: (i: number) => string) => latency(label, auth, pathFor, bucketsOf, STATS_SAMPLES, 3);
    const dayFrom = encodeURIComponent(new Date(lastAt - 86_400_000).toISOString());
    const monthFrom = encodeURIComponent(new Date(lastAt - 30 * 86_400_000).toISOString());
    // Bounded by the history's last event: the seeded history ends before today.
    const until = `&to=${encodeURIComponent(new Date(lastAt + 1).toISOString())}`;
    const stats: Timed[] = [];
    stats.push(await statsLatency('stats: last 24 hours by hour', () => `/v1/audit/stats?from=${dayFrom}${until}&bucket=hour`));
    stats.push(
      await statsLatency(
        'stats: last 7 days by hour, per terminal',
        () => `/v1/audit/stats?from=${encodeURIComponent(weekFrom)}${until}&bucket=hour&groupBy=terminal`,
      ),
    );
    stats.push(await statsLatency('stats: last 30 days by day', () => `/v1/audit/stats?from=${monthFrom}${until}&bucket=day`));
    stats.push(
      await statsLatency(
        'stats: one terminal, last 30 days by day',
        (i) => `/v1/audit/stats?terminalNumber=${terminalNumber(i * 7)}&from=${monthFrom}${until}&bucket=day`,
      ),
    );

    // Export windows of ~200k and ~1M events: a flat RSS means the peak does not grow with size.
    const window = (n: number) =>
      `from=${encodeURIComponent(occurredAtOf(middle).toISOString())}&to=${encodeURIComponent(occurredAtOf(middle + n).toISOString())}`;
    const exports: ExportRun[] = [];
    const big = Math.min(2_000_000, Math.floor(EVENTS / 2));
    exports.push(await exportRun('CSV, 200k rows', auth, broker, window(200_000), 'csv', 200_000));
    exports.push(await exportRun(`CSV, ${big / 1e6}M rows`, auth, broker, window(big), 'csv', big));
    exports.push(await exportRun(`NDJSON, ${big / 1e6}M rows`, auth, broker, window(big), 'ndjson', big));

    const verifyFrom = occurredAtOf(middle).toISOString();
    const verifyTo = occurredAtOf(Math.min(EVENTS - 1, middle + 1_000_000)).toISOString();
    const t0 = performance.now();
    const verify = await get(`/v1/audit/verify?from=${encodeURIComponent(verifyFrom)}&to=${encodeURIComponent(verifyTo)}`, auth.token());
    const verifySeconds = (performance.now() - t0) / 1000;
    const report = JSON.parse(verify.body) as { ok: boolean; eventsChecked: number; sealsChecked: number };
    if (verify.status !== 200 || !report.ok) throw new Error(`verify: HTTP ${verify.status} ${verify.body}`);
    const verifyRate = report.eventsChecked / verifySeconds;
    log(`verify: ${report.eventsChecked} events in ${report.sealsChecked} seals in ${f(verifySeconds, 2)} s = ${f(verifyRate, 0)} events/s`);

    const insert = await insertCost(db, occurredAtOf(EVENTS - 1));
    log(`insert: ${f(insert.parentUs, 2)} µs/event through the parent, ${f(insert.partitionUs, 2)} µs/event straight into ${insert.partition}`);

    writeSection({
      insert,
      // What else ran on the machine meanwhile: figures of runs under different load do not compare.
      load: `${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (1-minute load average, ${cpus().length} cores)`,
      machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
      events: EVENTS,
      tableSize: sizeRows[0].size,
      seedSeconds,
      sealSeconds,
      sealRate,
      pages,
      stats,
      exports,
      verify: { events: report.eventsChecked, seals: report.sealsChecked, seconds: verifySeconds, rate: verifyRate },
    });
    log('results written to BENCHMARKS.md');
  } finally {
    await broker?.stop();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The group-commit writer's statement (INSERT … SELECT unnest, 500 rows a batch) timed through the
 * partitioned parent and, with the same rows, straight into the partition they land in: the
 * difference is what routing through the partitioned table costs per event. Both into the month
 * the history ends in, a partition as full as the current month's would be.
 */
async function insertCost(db: AuditBenchDb, at: Date): Promise<{ parentUs: number; partitionUs: number; partition: string }> {
  const batch = 500;
  const rounds = 40;
  const columns = (n: number): unknown[][] => {
    const cols: unknown[][] = Array.from({ length: AUDIT_COLUMNS }, () => new Array<unknown>(batch));
    for (let i = 0; i < batch; i++) {
      const row = toAuditRow({
        action: 'session.issued',
        outcome: 'issued',
        actorType: 'device',
        actorId: `bench-${n}-${i}`,
        terminalNumber: terminalNumber(i),
        scope: { command: 'doDeal' },
        requestId: `ins-${n}-${i}`,
        clientIp: '10.1.2.3',
        userAgent: 'pos-agent/2.1',
        gatewayResult: '000',
        gatewayTranId: String(n * batch + i),
        latencyMs: 40,
        sessionFingerprint: createHash('sha256').update(`${n}-${i}`).digest('hex'),
        occurredAt: at,
      });
      for (let c = 0; c < AUDIT_COLUMNS; c++) cols[c][i] = row[c];
    }
    return cols;
  };
  const { rows } = await db.client.query<{ part: string }>(
    `SELECT tableoid::regclass::text AS part FROM audit_event WHERE occurred_at <= $1 ORDER BY occurred_at DESC LIMIT 1`,
    [at.toISOString()],
  );
  const partition = rows[0].part;
  const direct = INSERT_AUDIT_BATCH.replace('INSERT INTO audit_event ', `INSERT INTO ${partition} `);
  let parent = 0;
  let straight = 0;
  for (let r = 0; r < rounds; r++) {
    // Interleaved, so that cache and checkpoint effects fall on both alike.
    for (const [sql, add] of [
      [INSERT_AUDIT_BATCH, (ms: number) => (parent += ms)],
      [direct, (ms: number) => (straight += ms)],
    ] as const) {
      const values = columns(r * 2 + (sql === direct ? 1 : 0));
      const t0 = performance.now();
      await db.client.query(sql, values);
      add(performance.now() - t0);
    }
  }
  return { parentUs: (parent * 1000) / (rounds * batch), partitionUs: (straight * 1000) / (rounds * batch), partition };
}

/** The seeding's device ids (md5-derived UUIDs). */
function deviceId(i: number): string {
  const h = createHash('md5')
    .update(`device${(i * 37) % 1000}`)
    .digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface Results {
  load: string;
  insert: { parentUs: number; partitionUs: number; partition: string };
  machine: string;
  events: number;
  tableSize: string;
  seedSeconds: number;
  sealSeconds: number;
  sealRate: number;
  pages: Timed[];
  stats: Timed[];
  exports: ExportRun[];
  verify: { events: number; seals: number; seconds: number; rate: number };
}

/** The figures of one run kept in BENCHMARKS.md (an HTML comment), so runs of other sizes sit side by side. */
interface RunSummary {
  label: string;
  date: string;
  load?: string;
  tableSize: string;
  worstP95: number;
  slowestExport: number;
  verifyRate: number;
  sealRate: number;
  insertUs?: number;
  insertPartitionUs?: number;
  pagesP95: Record<string, number>;
  /** Absent in runs from before the stats queries were measured. */
  statsP95?: Record<string, number>;
  exports: Record<string, number>;
}
const DATA = '<!-- audit-bench:data ';

function comparison(runs: RunSummary[]): string[] {
  const row = (name: string, cell: (r: RunSummary) => string, target = '—') => `| ${name} | ${runs.map(cell).join(' | ')} | ${target} |`;
  const pageLabels = [...new Set(runs.flatMap((r) => Object.keys(r.pagesP95)))];
  const exportLabels = [...new Set(runs.flatMap((r) => Object.keys(r.exports)))];
  const statsLabels = [...new Set(runs.flatMap((r) => Object.keys(r.statsP95 ?? {})))];
  return [
    `| figure | ${runs.map((r) => `${r.label} (${r.date.slice(0, 10)})`).join(' | ')} | target |`,
    `| --- | ${runs.map(() => '---').join(' | ')} | --- |`,
    row('table with indexes', (r) => r.tableSize),
    row('machine load during the run', (r) => r.load ?? 'not recorded'),
    row('worst p95 of the page queries', (r) => `${f(r.worstP95)} ms`, '< 50 ms'),
    ...pageLabels.map((l) => row(`p95: ${l}`, (r) => (l in r.pagesP95 ? `${f(r.pagesP95[l])} ms` : '—'))),
    ...statsLabels.map((l) => row(`p95: ${l}`, (r) => (r.statsP95 && l in r.statsP95 ? `${f(r.statsP95[l])} ms` : 'not measured'))),
    row('slowest export', (r) => `${f(r.slowestExport, 0)} rows/s`, '≥ 100,000 rows/s'),
    ...exportLabels.map((l) => row(`export: ${l}`, (r) => (l in r.exports ? `${f(r.exports[l], 0)} rows/s` : '—'))),
    row('verify', (r) => `${f(r.verifyRate, 0)} events/s`),
    row('sealing', (r) => `${f(r.sealRate, 0)} events/s`),
    row('insert, group-commit batch of 500, per event', (r) => (r.insertUs === undefined ? 'not measured' : `${f(r.insertUs, 2)} µs`), 'unchanged'),
    row('same rows straight into their partition', (r) => (r.insertPartitionUs === undefined ? '—' : `${f(r.insertPartitionUs, 2)} µs`)),
  ];
}

const START = '<!-- audit-bench:start -->';
const END = '<!-- audit-bench:end -->';

/** Replaces the "Audit trail" section of BENCHMARKS.md, leaving every other section alone. */
function writeSection(r: Results): void {
  const file = join(__dirname, '..', '..', 'BENCHMARKS.md');
  const worstPage = Math.max(...r.pages.map((p) => p.p95));
  const slowestExport = Math.min(...r.exports.map((e) => e.rowsPerSecond));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    text = '# Benchmarks\n';
  }
  const dataAt = text.indexOf(DATA);
  const runs: RunSummary[] = dataAt >= 0 ? (JSON.parse(text.slice(dataAt + DATA.length, text.indexOf(' -->', dataAt))) as RunSummary[]) : [];
  const label = `${(r.events / 1e6).toLocaleString('en')}M, partitioned`;
  const summary: RunSummary = {
    label,
    date: new Date().toISOString(),
    load: r.load,
    tableSize: r.tableSize,
    worstP95: worstPage,
    slowestExport,
    verifyRate: r.verify.rate,
    sealRate: r.sealRate,
    insertUs: r.insert.parentUs,
    insertPartitionUs: r.insert.partitionUs,
    pagesP95: Object.fromEntries(r.pages.map((p) => [p.label, p.p95])),
    statsP95: Object.fromEntries(r.stats.map((p) => [p.label, p.p95])),
    exports: Object.fromEntries(r.exports.map((e) => [e.label.replace(/\d+(\.\d+)?M rows/, 'large window'), e.rowsPerSecond])),
  };
  const kept = runs.filter((x) => x.label !== label);
  kept.push(summary);
  const section = [
    START,
    '## Audit trail (`npm run bench:audit`)',
    '',
    'Each size is its own run of `npm run bench:audit -- --events N`; the table keeps the latest run of every size, so the ' +
      'growth of each figure with the trail is visible. The tables after it are the details of the latest run.',
    '',
    ...comparison(kept),
    '',
    `${DATA}${JSON.stringify(kept)} -->`,
    '',
    '### Latest run',
    '',
    `Command: \`npm run bench:audit\` (written by the run itself, ${new Date().toISOString()}).`,
    `Machine: ${r.machine}; the bench client, the broker and Postgres share it. Load: ${r.load}.`,
    `Data: ${r.events.toLocaleString('en')} synthetic events seeded with \`generate_series\` in ${f(r.seedSeconds, 0)} s ` +
      `(${r.tableSize} with indexes): two per request over 200 terminals and 1,000 devices, 94 % issued, 3.5 % failed ` +
      '(303/405/455/456/457), 2.5 % denied. Broker: compiled (`dist/src/main.js`, `LOG_LEVEL=warn`, `NODE_ENV=test` because ' +
      'production insists on Vault for secrets), over HTTP on loopback, its own background sealer sealing everything first; ' +
      `each figure of a page is ${SAMPLES} sequential requests after 10 warm-up ones, of a stats query ${STATS_SAMPLES} after 3 (each request also writes its ` +
      'own `audit.events.listed` access event before answering).',
    '',
    '| figure | value | target |',
    '| --- | --- | --- |',
    `| worst p95 of the page queries below | ${f(worstPage)} ms | < 50 ms |`,
    `| slowest export | ${f(slowestExport, 0)} rows/s | ≥ 100,000 rows/s |`,
    `| broker peak RSS, first vs second half of each export | ${r.exports.map((e) => `${f(e.rssPeakFirstHalf, 0)} / ${f(e.rssPeakSecondHalf, 0)} MiB`).join('; ')} | flat |`,
    `| verify (\`GET /v1/audit/verify\` over a time range) | ${f(r.verify.rate, 0)} events/s (${r.verify.events.toLocaleString('en')} events, ${r.verify.seals} seals, ${f(r.verify.seconds, 1)} s) | — |`,
    `| sealing (background job, all events) | ${f(r.sealRate, 0)} events/s (${f(r.sealSeconds, 0)} s) | — |`,
    '',
    '| page query | p50 ms | p95 ms | max ms | rows/page |',
    '| --- | --- | --- | --- | --- |',
    ...r.pages.map((p) => `| ${p.label} | ${f(p.p50)} | ${f(p.p95)} | ${f(p.max)} | ${f(p.rows, 0)} |`),
    '',
    '| stats query (Activity screen) | p50 ms | p95 ms | max ms | buckets/answer |',
    '| --- | --- | --- | --- | --- |',
    ...r.stats.map((p) => `| ${p.label} | ${f(p.p50)} | ${f(p.p95)} | ${f(p.max)} | ${f(p.rows, 0)} |`),
    '',
    '| export | rows | s | rows/s | MiB | broker RSS before | peak, first half | peak, second half |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.exports.map(
      (e) =>
        `| ${e.label} | ${e.rows} | ${f(e.seconds, 2)} | ${f(e.rowsPerSecond, 0)} | ${f(e.mib)} | ${f(e.rssBefore, 0)} MiB | ${f(e.rssPeakFirstHalf, 0)} MiB | ${f(e.rssPeakSecondHalf, 0)} MiB |`,
    ),
    '',
    `Insert: the group-commit writer's INSERT … SELECT unnest, 500 events a batch, ${f(r.insert.parentUs, 2)} µs per event through the ` +
      `partitioned parent vs ${f(r.insert.partitionUs, 2)} µs straight into \`${r.insert.partition}\` (the history's last month, the same rows).`,
    '',
    'audit_event is partitioned by month (migration `20261130800000_audit_event_partitioned`); every partition carries ' +
      'these indexes (migration `20261124300000_audit_seal_retention`): `(occurred_at, id)`, ' +
      '`(terminal_number, occurred_at, id)`, `(actor_id, occurred_at, id)`, `(action, occurred_at, id)`, ' +
      '`(gateway_result, occurred_at, id) WHERE gateway_result IS NOT NULL`; every page is a backward index scan ' +
      'bounded by the `(occurred_at, id) < cursor` row comparison, so a deep page costs what a first page costs.',
    END,
  ].join('\n');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  const next = start >= 0 && end > start ? text.slice(0, start) + section + text.slice(end + END.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}

void main().catch((err: unknown) => {
  process.stderr.write(`bench:audit failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
