import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sign } from 'jsonwebtoken';
import { Client } from 'pg';
import { ADMIN_URL } from './bench-setup';
import { startNode, waitForReady, type Proc } from './processes';

/**
 * The performance anchor (../shared/perf-anchor, outside the repository): a hand-written version of
 * the session path on bare Fastify, and the gateway stub it calls. The bench runs it beside the
 * broker in the same run so that the broker's cost is stated as a ratio, which stays meaningful on
 * a shared, noisy machine where absolute figures do not. Its code is run from a copy, never copied
 * into this repository.
 */
export interface PerfAnchor {
  /** The anchor's POST /v1/sessions. */
  readonly url: string;
  /** The gateway stub's Relay URL: the broker's terminals point here too, so both call the same gateway. */
  readonly gatewayUrl: string;
  readonly proto: Proc;
  readonly stub: Proc;
  /** The anchor's request body, and pre-signed device JWTs as its own load generator makes them. */
  readonly body: string;
  tokens(count: number): string[];
  close(): Promise<void>;
}

const ROOT = resolve(__dirname, '..', '..');
export const ANCHOR_SOURCE = resolve(ROOT, '..', 'shared', 'perf-anchor');

export async function startPerfAnchor(ports: { stub: number; proto: number }, log: (s: string) => void): Promise<PerfAnchor | undefined> {
  if (!existsSync(join(ANCHOR_SOURCE, 'proto.mjs'))) {
    log(`perf anchor not found at ${ANCHOR_SOURCE}: reporting the broker alone, without ratios`);
    return undefined;
  }
  const dir = preparedCopy(log);
  execFileSync(process.execPath, ['gen-keys.mjs'], { cwd: dir, stdio: 'ignore' });
  // The anchor creates its own `audit_event` table: give it a scratch database of its own.
  const database = `psb_anchor_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${database}`);
  const pg = new URL(ADMIN_URL);
  const env = {
    PGHOST: pg.hostname,
    PGPORT: pg.port || '5432',
    PGUSER: decodeURIComponent(pg.username) || 'postgres',
    PGDATABASE: database,
  };
  const gatewayUrl = `http://127.0.0.1:${ports.stub}/xpo/Relay`;
  const stub = startNode(join(dir, 'gateway-stub.mjs'), {}, [], [String(ports.stub)], dir);
  const proto = startNode(join(dir, 'proto.mjs'), env, [], [String(ports.proto), gatewayUrl, 'group'], dir);
  try {
    await waitForReady(`http://127.0.0.1:${ports.stub}/__stats`);
    await waitForReady(`http://127.0.0.1:${ports.proto}/__stats`);
  } catch (err) {
    await Promise.all([stub.stop(), proto.stop()]);
    throw err;
  }
  const { JWT_ISS, JWT_AUD, TERMINAL } = await importEsm<{ JWT_ISS: string; JWT_AUD: string; TERMINAL: string }>(pathToFileURL(join(dir, 'shared.mjs')).href);
  const privateKey = readFileSync(join(dir, 'keys', 'device-es256.pem'), 'utf8');
  return {
    url: `http://127.0.0.1:${ports.proto}`,
    gatewayUrl,
    proto,
    stub,
    body: JSON.stringify({ terminalNumber: TERMINAL, scope: { command: 'doDeal' } }),
    tokens: (count) => {
      const now = Math.floor(Date.now() / 1000);
      // The claims the anchor's own load.mjs signs (terminal and scope travel in the token there).
      return Array.from({ length: count }, (_, i) =>
        sign({ terminal: TERMINAL, scope: ['doDeal'], jti: randomUUID(), iat: now, exp: now + 7200 }, privateKey, {
          algorithm: 'ES256',
          keyid: 'device-key-1',
          issuer: JWT_ISS,
          audience: JWT_AUD,
          subject: `device-${i % 500}`,
        }),
      );
    },
    close: async () => {
      await Promise.all([proto.stop(), stub.stop()]);
      await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    },
  };
}

/**
 * A copy of the anchor with its dependencies installed (the source folder is read-only), kept in
 * the user's cache and reused while the anchor's lockfile is unchanged.
 */
function preparedCopy(log: (s: string) => void): string {
  const lock = readFileSync(join(ANCHOR_SOURCE, 'package-lock.json'));
  const tag = createHash('sha256')
    .update(lock)
    .update(readFileSync(join(ANCHOR_SOURCE, 'proto.mjs')))
    .digest('hex')
    .slice(0, 12);
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pos-session-broker', `perf-anchor-${tag}`);
  if (existsSync(join(dir, 'node_modules', '.package-lock.json'))) return dir;
  log(`installing the perf anchor's dependencies into ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(ANCHOR_SOURCE, dir, { recursive: true, filter: (src) => !/[/\\](node_modules|results|keys)([/\\]|$)/.test(src.slice(ANCHOR_SOURCE.length)) });
  execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  return dir;
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/**
 * The bench compiles to CommonJS, where TypeScript would turn `import()` into `require()`, which
 * cannot load an .mjs file; a function built from source keeps the real `import()`. Its only input
 * is the file URL of the anchor's shared.mjs.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importEsm = new Function('url', 'return import(url)') as <T>(url: string) => Promise<T>;
