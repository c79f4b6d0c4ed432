import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { join, posix } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { configSchema, validateConfig, type Config } from '../src/config/config.schema';

/**
 * Static checks of the deployment artefacts (docker/): no Docker engine or cluster exists where
 * the tests run, so the Dockerfile, the compose stack, the proxy config and the Kubernetes manifests
 * are parsed and checked against each other, the lockfile and the configuration schema. Each check
 * returns the problems it finds; the last block feeds broken copies to the same checks.
 */

const ROOT = join(__dirname, '..');
const DOCKER = join(ROOT, 'docker');
const read = (...p: string[]) => readFileSync(join(ROOT, ...p), 'utf8');

const SCHEMA_KEYS = new Set(Object.keys(configSchema.shape));
const PACKAGE = JSON.parse(read('package.json')) as { devDependencies: Record<string, string> };
const LOCK = JSON.parse(read('package-lock.json')) as Lockfile;

// ---------------------------------------------------------------------------------------------
// Dockerfile

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Logical instructions (continuations joined, comments and parser directives dropped), by stage. */
function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('#') || line === '') continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  if (pending) lines.push(pending.trim());

  const globalArgs = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/s.exec(line)!;
    const kw = keyword.toUpperCase();
    if (kw === 'FROM') {
      const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = words[0].replace(/\$\{?(\w+)\}?/g, (_, n: string) => globalArgs.get(n) ?? '');
      const as = words.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push({ image, name: as > 0 ? words[as + 1] : undefined, instructions: [] });
    } else if (stages.length === 0) {
      const arg = kw === 'ARG' ? /^(\w+)=(\S+)$/.exec(args) : null;
      if (arg) globalArgs.set(arg[1], arg[2]);
    } else {
      stages[stages.length - 1].instructions.push({ keyword: kw, args });
    }
  }
  return stages;
}

function execForm(args: string): string[] | undefined {
  const json = args.slice(args.indexOf('['));
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) ? parsed.map(String) : undefined;
  } catch {
    return undefined;
  }
}

function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const i of stage.instructions.filter((x) => x.keyword === 'ENV')) {
    const pairs = i.args.match(/\w+=("[^"]*"|\S*)/g);
    if (pairs) pairs.forEach((p) => env.set(p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1).replace(/^"|"$/g, '')));
    else env.set(i.args.split(/\s+/)[0], i.args.split(/\s+/).slice(1).join(' '));
  }
  return env;
}

/** COPY/ADD with flags separated and the destination resolved against the stage's WORKDIR. */
function copiesOf(stage: Stage): Array<{ from?: string; sources: string[]; dest: string; index: number }> {
  let workdir = '/';
  const out: Array<{ from?: string; sources: string[]; dest: string; index: number }> = [];
  stage.instructions.forEach((i, index) => {
    if (i.keyword === 'WORKDIR') workdir = posix.resolve(workdir, i.args);
    if (i.keyword !== 'COPY' && i.keyword !== 'ADD') return;
    const words = i.args.split(/\s+/);
    const flags = words.filter((w) => w.startsWith('--'));
    const paths = words.filter((w) => !w.startsWith('--'));
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
    out.push({ from, sources: paths.slice(0, -1), dest: posix.resolve(workdir, paths[paths.length - 1]), index });
  });
  return out;
}

function workdirOf(stage: Stage): string {
  return stage.instructions.filter((i) => i.keyword === 'WORKDIR').reduce((w, i) => posix.resolve(w, i.args), '/');
}

interface LockEntry {
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
}
interface Lockfile {
  packages: Record<string, LockEntry>;
}

/**
 * The packages `npm ci` with these --omit types installs from the lockfile that only development
 * needs (flagged dev or devOptional), by npm arborist's rule (Node.shouldOmit).
 */
function devOnlyInstalled(lock: Lockfile, omit: Set<string>): string[] {
  const kept: string[] = [];
  for (const [path, p] of Object.entries(lock.packages)) {
    if (path === '' || !(p.dev || p.devOptional)) continue;
    const omitted =
      (p.peer && omit.has('peer')) ||
      (p.dev && omit.has('dev')) ||
      (p.optional && omit.has('optional')) ||
      (p.devOptional && omit.has('optional') && omit.has('dev'));
    if (!omitted) kept.push(path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
  }
  return kept;
}

function npmCommands(run: string): string[][] {
  return run
    .split(/&&|\|\||;/)
    .map((segment) =>
      segment
        .trim()
        .split(/\s+/)
        .filter((w) => !w.startsWith('--mount=')),
    )
    .filter((words) => words[0] === 'npm' || words[0] === 'yarn' || words[0] === 'pnpm');
}

function omitSet(words: string[]): Set<string> {
  const omit = new Set<string>();
  words.forEach((w, i) => {
    if (w.startsWith('--omit=')) omit.add(w.slice('--omit='.length));
    if (w === '--omit' && words[i + 1]) omit.add(words[i + 1]);
    if (w === '--production' || w === '--only=prod' || w === '--only=production') omit.add('dev');
  });
  return omit;
}

/** The compiled entry point as tsc writes it in the build stage (outDir of tsconfig.json). */
function compiledPath(buildWorkdir: string, source: string): string {
  const outDir = (JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string } }).compilerOptions.outDir;
  return posix.join(buildWorkdir, outDir, source.replace(/\.ts$/, '.js'));
}

/** Where a file built in another stage lands in the final one, if some COPY --from brings it. */
function landedAt(copies: ReturnType<typeof copiesOf>, fromStage: string, builtPath: string): string | undefined {
  for (const c of copies.filter((x) => x.from === fromStage)) {
    for (const s of c.sources) {
      const src = posix.resolve('/', s);
      if (builtPath === src) return c.dest;
      if (builtPath.startsWith(src + '/')) return posix.join(c.dest, builtPath.slice(src.length + 1));
    }
  }
  return undefined;
}

function dockerfileProblems(text: string, lock: Lockfile = LOCK): string[] {
  const problems: string[] = [];
  const stages = parseDockerfile(text);
  if (stages.length < 2) return [`multi-stage build expected, found ${stages.length} FROM`];
  const names = new Set(stages.map((s) => s.name).filter(Boolean));
  for (const s of stages) {
    if (names.has(s.image)) continue;
    if (!/:[\w.-]+/.test(s.image.split('/').pop()!) || /:latest$/.test(s.image)) problems.push(`FROM ${s.image}: pin a tag`);
  }
  const final = stages[stages.length - 1];
  const build = stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && /npm run build\b/.test(i.args)));
  if (!build || build === final) problems.push('no earlier stage runs `npm run build`');
  if (!/^node:24[.-]/.test(final.image)) problems.push(`final stage must run on Node 24 LTS, not ${final.image}`);

  const users = final.instructions.filter((i) => i.keyword === 'USER');
  const user = users.length ? users[users.length - 1].args.split(':')[0] : 'root';
  if (user === 'root' || user === '0') problems.push('final stage runs as root: add USER with a non-root uid');
  else if (!/^\d+$/.test(user)) problems.push(`USER ${user}: use a numeric uid so Kubernetes runAsNonRoot can verify it`);

  const health = final.instructions.filter((i) => i.keyword === 'HEALTHCHECK');
  if (health.length === 0 || /^NONE\b/i.test(health[health.length - 1].args)) problems.push('final stage has no HEALTHCHECK');
  else {
    const h = health[health.length - 1].args;
    if (!h.includes('/health/live')) problems.push('HEALTHCHECK must ask /health/live');
    if (/\b(curl|wget)\b/.test(h)) problems.push('HEALTHCHECK uses curl/wget, which the slim image does not have');
  }

  const exposed = final.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
  if (!exposed.some((p) => p.replace(/\/tcp$/, '') === '8080')) problems.push('final stage must EXPOSE 8080');
  const env = envOf(final);
  if (env.get('NODE_ENV') !== 'production') problems.push('final stage must set NODE_ENV=production');
  if (env.get('HOST') !== '0.0.0.0') problems.push('final stage must set HOST=0.0.0.0 (the default 127.0.0.1 is unreachable)');
  if ((env.get('PORT') ?? '8080') !== '8080') problems.push('PORT must stay 8080');

  // Production dependencies only: every devDependency stays out of the final stage.
  const runs = final.instructions.filter((i) => i.keyword === 'RUN');
  const installs = runs.flatMap((r) => npmCommands(r.args)).filter((w) => w[0] !== 'npm' || ['ci', 'install', 'i', 'add'].includes(w[1]));
  if (installs.length === 0) problems.push('final stage installs no dependencies');
  for (const words of installs) {
    const cmd = words.join(' ');
    if (words[0] !== 'npm' || words[1] !== 'ci') {
      problems.push(`final stage: \`${cmd}\`: use npm ci (the lockfile, exactly)`);
      continue;
    }
    if (!words.includes('--ignore-scripts')) problems.push(`final stage: \`${cmd}\` runs install scripts (postinstall needs the prisma CLI)`);
    const devOnly = devOnlyInstalled(lock, omitSet(words));
    const direct = Object.keys(PACKAGE.devDependencies).filter((d) => devOnly.includes(d));
    if (devOnly.length) problems.push(`final stage: \`${cmd}\` installs ${devOnly.length} development-only packages, devDependencies: ${direct.join(', ')}`);
  }
  const copies = copiesOf(final);
  const installAt = final.instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
  const lockCopied = copies.some((c) => c.index < installAt && !c.from && c.sources.includes('package-lock.json'));
  if (installAt >= 0 && !lockCopied) problems.push('final stage runs npm ci before copying package-lock.json');
  for (const c of copies.filter((x) => x.from)) {
    if (c.sources.some((s) => s.includes('node_modules'))) problems.push(`final stage copies node_modules from ${c.from} (dev dependencies)`);
  }

  // The command's script and the migration runner's upward search, as they will be in the image.
  const cmd = execForm(final.instructions.filter((i) => i.keyword === 'CMD').pop()?.args ?? '');
  if (!cmd || cmd[0] !== 'node') problems.push('CMD must be exec form ["node", ...] (signals reach node, not a shell)');
  else if (build?.name) {
    const script = posix.resolve(workdirOf(final), cmd[1]);
    const main = landedAt(copies, build.name, compiledPath(workdirOf(build), 'src/main.ts'));
    if (!existsSync(join(ROOT, 'src/main.ts'))) problems.push('src/main.ts is gone');
    if (main !== script) problems.push(`CMD runs ${script}, but the compiled src/main.ts lands at ${main ?? 'nowhere'}`);
    const runnerDir = landedAt(copies, build.name, compiledPath(workdirOf(build), 'src/database/migration-runner.ts'));
    const migrations = copies.filter((c) => !c.from && c.sources.includes('prisma/migrations')).map((c) => c.dest);
    const found = runnerDir && ancestors(posix.dirname(runnerDir)).some((d) => migrations.includes(posix.join(d, 'prisma/migrations')));
    if (!found) problems.push('prisma/migrations is not where the migration runner looks (upwards from dist/src/database)');
  }
  return problems;
}

function ancestors(dir: string): string[] {
  const out = [dir];
  while (dir !== '/') out.push((dir = posix.dirname(dir)));
  return out;
}

function dockerignoreProblems(ignore: string, dockerfile: string): string[] {
  const patterns = ignore
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('!'))
    .map(
      (l) =>
        new RegExp(
          '^' +
            l
              .replace(/^\/|\/$/g, '')
              .replace(/[.+^$()|[\]{}]/g, '\\$&')
              .replace(/\*\*/g, '.*')
              .replace(/\*/g, '[^/]*') +
            '(/.*)?$',
        ),
    );
  const ignored = (p: string) => patterns.some((re) => re.test(p));
  const problems: string[] = [];
  for (const must of ['node_modules', 'dist', 'data', '.env', '.git']) if (!ignored(must)) problems.push(`.dockerignore must exclude ${must}`);
  for (const stage of parseDockerfile(dockerfile)) {
    for (const c of copiesOf(stage).filter((x) => !x.from)) {
      for (const s of c.sources) if (ignored(s.replace(/^\.\//, ''))) problems.push(`.dockerignore excludes ${s}, which the Dockerfile copies`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Secrets in committed files

const SENSITIVE_NAME = /(PASSWORD|SECRET|TOKEN|PRIVATE|_KEY)(_ID)?$/i;

function secretLookingProblems(file: string, text: string): string[] {
  const problems: string[] = [];
  const body = text
    .split(/\r?\n/)
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(body)) problems.push(`${file}: a private key`);
  if (/\bhv[sbr]\.[A-Za-z0-9_-]{20,}/.test(body) || /\bs\.[A-Za-z0-9]{24}\b/.test(body)) problems.push(`${file}: a Vault token`);
  if (/\bAKIA[0-9A-Z]{16}\b/.test(body)) problems.push(`${file}: an AWS access key`);
  for (const m of body.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]+:([^\s@'"]+)@/g)) {
    if (!/^\$\{\w+(:?-[^}]*)?\}$/.test(m[1]) || !/dev/i.test(m[1])) problems.push(`${file}: a password in a URL (${m[0].split(':')[0]}://…)`);
  }
  for (const m of body.matchAll(/(?<![\w:])[A-Za-z0-9+/_-]{32,}={0,2}/g)) {
    if (entropy(m[0]) > 4.2) problems.push(`${file}: a high-entropy string (${m[0].slice(0, 6)}…)`);
  }
  return problems;
}

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  return [...counts.values()].reduce((h, n) => h - (n / s.length) * Math.log2(n / s.length), 0);
}

/** A sensitive setting must come from the environment, with at most an obviously dev-only default. */
function sensitiveValueProblem(where: string, name: string, value: unknown): string | undefined {
  if (!SENSITIVE_NAME.test(name) || value === undefined || value === null) return undefined;
  const m = /^\$\{(\w+)(?::?-([^}]*))?\}$/.exec(String(value));
  if (!m) return `${where}: ${name} is written into the file; take it from \${${name}}`;
  if (m[2] !== undefined && !/dev/i.test(m[2])) return `${where}: ${name} defaults to a value that does not say it is dev-only`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// compose

type Yaml = any;

/** Compose variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$. */
function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{(\w+)(?:(:?)([-?])([^}]*))?\}/g, (whole, name: string, colon: string, op: string, arg: string) => {
    if (whole === '$$') return '$';
    const v = env[name];
    const unset = v === undefined || (colon === ':' && v === '');
    if (op === '?' && unset) throw new Error(`${name}: ${arg}`);
    return unset ? (op === '-' ? arg : '') : v;
  });
}

function composeEnv(service: Yaml): Record<string, string> {
  const e = service?.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv: string) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

function dependsOn(service: Yaml): Record<string, string | undefined> {
  const d = service?.depends_on ?? {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n: string) => [n, undefined]));
  return Object.fromEntries(Object.entries(d).map(([n, v]) => [n, (v as Yaml)?.condition]));
}

function hasHealthcheck(service: Yaml): boolean {
  const h = service?.healthcheck;
  if (!h || h.disable === true) return false;
  const test = Array.isArray(h.test) ? h.test : [h.test];
  return test.length > 0 && test[0] !== 'NONE' && test.join(' ').trim() !== '';
}

/** Service keys of the Compose Specification this stack may use: a typo is otherwise ignored silently. */
const SERVICE_KEYS = new Set([
  'build',
  'image',
  'command',
  'entrypoint',
  'environment',
  'env_file',
  'depends_on',
  'healthcheck',
  'volumes',
  'ports',
  'expose',
  'restart',
  'read_only',
  'tmpfs',
  'cap_add',
  'cap_drop',
  'security_opt',
  'user',
  'working_dir',
  'networks',
  'labels',
  'deploy',
  'secrets',
  'configs',
  'logging',
  'ulimits',
  'init',
  'stop_grace_period',
  'stop_signal',
  'profiles',
  'container_name',
  'hostname',
  'platform',
  'pull_policy',
  'extra_hosts',
  'mem_limit',
  'cpus',
  'shm_size',
  'sysctls',
]);
const HEALTHCHECK_KEYS = new Set(['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable']);
const CONDITIONS = new Set(['service_started', 'service_healthy', 'service_completed_successfully']);

const BROKERS = ['broker-1', 'broker-2'];
const REQUIRED_EDGES: Array<[string, string, string]> = [
  ...BROKERS.flatMap((b): Array<[string, string, string]> => [
    [b, 'migrate', 'service_completed_successfully'],
    [b, 'postgres', 'service_healthy'],
    [b, 'redis', 'service_healthy'],
    [b, 'vault', 'service_healthy'],
    [b, 'vault-seed', 'service_completed_successfully'],
  ]),
  ['migrate', 'postgres', 'service_healthy'],
  ['vault-seed', 'vault', 'service_healthy'],
  ['proxy', 'broker-1', 'service_healthy'],
  ['proxy', 'broker-2', 'service_healthy'],
];
/** What the stack needs from the person starting it (compose refuses to start without it). */
const COMPOSE_INPUT = {
  HYP_DEFAULT_ENDPOINT: 'https://hyp-test.example/xpo/Relay',
  OPERATOR_JWKS_URI: 'https://idp-test.example/.well-known/jwks.json',
  OPERATOR_JWT_ISSUER: 'https://idp-test.example/',
};

/** Admins and auditors sign in with tokens from the operator identity provider: without it every operator route is 401. */
function operatorAuthProblems(where: string, config: Config): string[] {
  if (config.OPERATOR_JWKS_URI || config.OPERATOR_JWT_PUBLIC_KEY || config.OPERATOR_JWT_PUBLIC_KEY_FILE) return [];
  return [`${where}: no operator key source (OPERATOR_JWKS_URI): every admin and auditor route would answer 401`];
}

function composeProblems(compose: Yaml, proxyConfig: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  const services: Record<string, Yaml> = compose?.services ?? {};
  for (const name of [...BROKERS, 'proxy', 'postgres', 'redis', 'vault', 'vault-seed', 'migrate']) {
    if (!services[name]) problems.push(`compose: no service ${name}`);
  }
  if (problems.length) return problems;

  // Every service is either health-checked or a one-off that something waits for to complete.
  const waitedToComplete = new Set(
    Object.values(services).flatMap((s) =>
      Object.entries(dependsOn(s))
        .filter(([, c]) => c === 'service_completed_successfully')
        .map(([n]) => n),
    ),
  );
  for (const [name, s] of Object.entries(services)) {
    for (const key of Object.keys(s ?? {})) if (!SERVICE_KEYS.has(key)) problems.push(`compose: ${name}.${key} is not a service key`);
    for (const key of Object.keys(s?.healthcheck ?? {}))
      if (!HEALTHCHECK_KEYS.has(key)) problems.push(`compose: ${name}.healthcheck.${key} is not a healthcheck key`);
    if (!hasHealthcheck(s) && !waitedToComplete.has(name)) problems.push(`compose: ${name} has no healthcheck`);
    if (waitedToComplete.has(name) && s.restart && s.restart !== 'no') problems.push(`compose: one-off ${name} must not restart`);
    for (const [dep, condition] of Object.entries(dependsOn(s))) {
      if (!services[dep]) problems.push(`compose: ${name} depends on unknown ${dep}`);
      else if (!condition || !CONDITIONS.has(condition)) problems.push(`compose: ${name} depends on ${dep} without a condition`);
      else if (condition === 'service_healthy' && !hasHealthcheck(services[dep]))
        problems.push(`compose: ${name} waits for ${dep} to be healthy, which has no healthcheck`);
    }
  }
  for (const [from, to, condition] of REQUIRED_EDGES) {
    if (dependsOn(services[from])[to] !== condition) problems.push(`compose: ${from} must depend on ${to} with ${condition}`);
  }

  // The brokers: the image built from docker/Dockerfile, the same production settings, not published.
  const built = [...BROKERS, 'migrate'].map((n) => services[n]);
  for (const [i, s] of built.entries()) {
    const who = [...BROKERS, 'migrate'][i];
    const context = join(DOCKER, s.build?.context ?? '.');
    if (context !== ROOT || join(context, s.build?.dockerfile ?? 'Dockerfile') !== join(DOCKER, 'Dockerfile')) {
      problems.push(`compose: ${who} must build docker/Dockerfile with the repository root as context`);
    }
    if (s.image !== services['broker-1'].image) problems.push(`compose: ${who} must use the same image as broker-1`);
  }
  const migrateCommand = [services.migrate.command].flat().join(' ');
  if (!/node dist\/src\/cli\.js migrate$/.test(migrateCommand)) problems.push('compose: migrate must run `node dist/src/cli.js migrate`');
  const env1 = composeEnv(services['broker-1']);
  let metricsPort: number | undefined;
  if (JSON.stringify(env1) !== JSON.stringify(composeEnv(services['broker-2']))) problems.push('compose: broker-1 and broker-2 settings differ');
  for (const who of [...BROKERS, 'migrate']) {
    const env = composeEnv(services[who]);
    for (const name of Object.keys(env))
      if (!SCHEMA_KEYS.has(name)) problems.push(`compose: ${who} sets ${name}, which is not a setting (src/config/config.schema.ts)`);
  }
  for (const b of BROKERS) if (services[b].ports?.length) problems.push(`compose: ${b} is published; only the proxy is`);
  for (const [name, s] of Object.entries(services)) {
    for (const [k, v] of Object.entries(composeEnv(s))) {
      const p = sensitiveValueProblem(`compose ${name}`, k, v);
      if (p) problems.push(p);
    }
  }
  try {
    const env = Object.fromEntries(Object.entries(env1).map(([k, v]) => [k, interpolate(v, COMPOSE_INPUT)]));
    const config = validateConfig(env);
    if (config.NODE_ENV !== 'production') problems.push('compose: brokers must run with NODE_ENV=production');
    if (config.HOST !== '0.0.0.0') problems.push('compose: brokers must listen on 0.0.0.0');
    problems.push(...operatorAuthProblems('compose', config));
    if (!config.REDIS_URL || new URL(config.REDIS_URL).hostname !== 'redis') problems.push('compose: REDIS_URL must point at the redis service');
    if (!config.DATABASE_URL || new URL(config.DATABASE_URL).hostname !== 'postgres') problems.push('compose: DATABASE_URL must point at the postgres service');
    const proxyAddresses = Object.values(services.proxy?.networks ?? {})
      .map((n) => (n as Yaml)?.ipv4_address)
      .filter((a): a is string => typeof a === 'string');
    if (proxyAddresses.length === 0) problems.push('compose: the proxy needs a fixed address for the brokers to trust (networks.<net>.ipv4_address)');
    for (const a of proxyAddresses) {
      if (!trusts(config.TRUSTED_PROXIES, a)) problems.push(`compose: brokers behind the proxy must trust its address ${a} (TRUSTED_PROXIES)`);
    }
    problems.push(...trustedProxyProblems('compose', config.TRUSTED_PROXIES));
    if (config.METRICS_PORT === 'off' || config.METRICS_PORT === config.PORT)
      problems.push('compose: brokers must serve metrics on a port of their own (METRICS_PORT)');
    else metricsPort = config.METRICS_PORT;
  } catch (err) {
    problems.push(`compose: the brokers' settings are refused: ${(err as Error).message}`);
  }

  // Vault in dev mode over TLS, seeded by docker/vault/setup.sh, wired to the brokers by volumes.
  problems.push(...vaultWiringProblems(services, env1));
  for (const [name, s] of Object.entries(services)) {
    for (const m of mounts(s).filter((x) => x.source.startsWith('.'))) {
      if (!existsSync(join(DOCKER, m.source))) problems.push(`compose: ${name} mounts ${m.source}, which does not exist`);
    }
  }
  for (const b of BROKERS) {
    for (const [name, path] of Object.entries(composeEnv(services[b])).filter(([k]) => k.endsWith('_FILE'))) {
      if (!mountAt(services[b], path)) problems.push(`compose: ${b} reads ${name}=${path}, which no volume provides`);
    }
  }

  // The proxy: published, round-robin over both brokers, each actively health-checked.
  const proxy = services.proxy;
  if (!(proxy.ports ?? []).some((p: string | Yaml) => String(typeof p === 'string' ? p : p.published).includes('8080')))
    problems.push('compose: proxy must publish 8080');
  const mounted = mounts(proxy)
    .map((m) => m.source)
    .find((src) => /\.(cfg|conf)$/.test(src));
  const cfg = mounted ? proxyConfig(mounted) : undefined;
  if (!cfg) problems.push('compose: proxy has no mounted configuration');
  else problems.push(...haproxyProblems(cfg, Number(env1.PORT), metricsPort));
  return problems;
}

/** Whether X-Forwarded-For from `address` is believed with this TRUSTED_PROXIES list. */
function trusts(list: readonly string[], address: string): boolean {
  const block = new BlockList();
  for (const entry of list) {
    const [ip, prefix] = entry.split('/');
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) block.addAddress(ip, family);
    else block.addSubnet(ip, Number(prefix), family);
  }
  return block.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** A list that trusts any address would let every client write its own client_ip. */
function trustedProxyProblems(where: string, list: readonly string[]): string[] {
  if (list.length === 0) return [`${where}: behind a proxy, TRUSTED_PROXIES must name it (otherwise every client is the proxy)`];
  return trusts(list, '203.0.113.50') || trusts(list, '2001:db8::50') ? [`${where}: TRUSTED_PROXIES trusts public addresses (${list.join(',')})`] : [];
}

interface Mount {
  source: string;
  target: string;
}
function mounts(service: Yaml): Mount[] {
  return ((service?.volumes ?? []) as Array<string | Yaml>).map((v) =>
    typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : { source: String(v.source), target: String(v.target) },
  );
}
/** The mount a path inside the container lies on, and the path relative to it. */
function mountAt(service: Yaml, path: string): { source: string; rest: string } | undefined {
  const m = mounts(service)
    .filter((x) => path === x.target || path.startsWith(x.target.replace(/\/$/, '') + '/'))
    .sort((a, b) => b.target.length - a.target.length)[0];
  return m && { source: m.source, rest: path.slice(m.target.replace(/\/$/, '').length + 1) };
}
const sameFile = (a?: { source: string; rest: string }, b?: { source: string; rest: string }) => !!a && !!b && a.source === b.source && a.rest === b.rest;
const joinWords = (v: unknown) =>
  [v]
    .flat()
    .filter((x) => x !== undefined)
    .join(' ');

function vaultWiringProblems(services: Record<string, Yaml>, brokerEnv: Record<string, string>): string[] {
  const problems: string[] = [];
  const vault = services.vault;
  const seed = services['vault-seed'];
  const command = joinWords(vault.command);
  if (!/^hashicorp\/vault:\d/.test(vault.image ?? '')) problems.push('compose: vault must be a pinned hashicorp/vault image');
  if (!/(^|\s)server\b/.test(command) || !/\s-dev(-tls)?\b/.test(command)) problems.push('compose: vault must run `server -dev`');
  let vaultHost = '';
  try {
    vaultHost = new URL(brokerEnv.VAULT_ADDR).hostname;
  } catch {
    problems.push('compose: brokers have no VAULT_ADDR');
  }
  if (vaultHost !== 'vault') problems.push('compose: VAULT_ADDR must name the vault service');
  // Production refuses plain http to Vault, so dev mode runs with its generated TLS certificate.
  const certDir = /-dev-tls-cert-dir=(\S+)/.exec(command)?.[1];
  if (!/\s-dev-tls\b/.test(command) || !certDir) problems.push('compose: vault must run -dev-tls with -dev-tls-cert-dir');
  else {
    if (!new RegExp(`-dev-tls-san=${vaultHost}(\\s|$)`).test(command)) problems.push(`compose: the dev certificate must name ${vaultHost} (-dev-tls-san)`);
    const ca = mountAt(vault, `${certDir}/vault-ca.pem`);
    if (!ca || ca.source.startsWith('.')) problems.push('compose: vault must write its CA to a named volume');
    for (const b of BROKERS) {
      if (!sameFile(mountAt(services[b], composeEnv(services[b]).VAULT_CA_FILE ?? ''), ca))
        problems.push(`compose: ${b} VAULT_CA_FILE is not the CA vault generates`);
    }
    if (!sameFile(mountAt(seed, composeEnv(seed).VAULT_CACERT ?? ''), ca)) problems.push('compose: vault-seed VAULT_CACERT is not the CA vault generates');
  }
  // The seed runs setup.sh from docker/vault and leaves the AppRole credentials where brokers read them.
  const script = /(\/\S+\/setup\.sh)\b/.exec(joinWords([seed.entrypoint, seed.command]))?.[1];
  const onHost = script && mountAt(seed, script);
  if (!onHost || !existsSync(join(DOCKER, onHost.source, onHost.rest))) problems.push('compose: vault-seed must run docker/vault/setup.sh');
  else if (!existsSync(join(DOCKER, onHost.source, 'broker-policy.hcl'))) problems.push('compose: docker/vault/broker-policy.hcl is missing beside setup.sh');
  const seedEnv = composeEnv(seed);
  if (brokerEnv.VAULT_AUTH_METHOD !== 'approle') problems.push('compose: brokers must log in to Vault with AppRole');
  for (const [broker, written] of [
    ['VAULT_APPROLE_ROLE_ID_FILE', 'ROLE_ID_FILE'],
    ['VAULT_APPROLE_SECRET_ID_FILE', 'SECRET_ID_FILE'],
  ]) {
    for (const b of BROKERS) {
      if (!sameFile(mountAt(services[b], composeEnv(services[b])[broker] ?? ''), mountAt(seed, seedEnv[written] ?? ''))) {
        problems.push(`compose: ${b} ${broker} is not the file vault-seed writes (${written})`);
      }
    }
  }
  return problems;
}

function haproxyProblems(cfg: string, brokerPort: number, metricsPort?: number): string[] {
  const problems: string[] = [];
  const lines = cfg
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  const sections: Record<string, string[]> = {};
  let current = '';
  for (const l of lines) {
    if (/^(global|defaults|frontend|backend|listen|resolvers)\b/.test(l)) sections[(current = l)] = [];
    else if (current) sections[current].push(l);
  }
  const frontend = Object.keys(sections).find((s) => s.startsWith('frontend'));
  const backendName = frontend && sections[frontend].find((l) => l.startsWith('default_backend'))?.split(/\s+/)[1];
  const backend = backendName ? sections[`backend ${backendName}`] : undefined;
  if (!frontend || !sections[frontend].some((l) => /^bind\s+\S*:8080\b/.test(l))) problems.push('proxy: no frontend bound to :8080');
  if (!backend) return [...problems, 'proxy: the frontend has no default_backend'];
  if (!backend.includes('balance roundrobin')) problems.push('proxy: balance must be roundrobin');
  if (!backend.some((l) => /uri \/health\/ready\b/.test(l))) problems.push('proxy: brokers must be checked on /health/ready');
  // A path rule on the raw path is passed with %-escapes (/health/%72eady): match the decoded path.
  for (const l of sections[frontend ?? ''] ?? []) {
    if (/\bpath(_beg|_end|_reg|_sub)?\s/.test(l) && !/\bpath,url_dec\b/.test(l)) problems.push(`proxy: \`${l}\` matches the raw path; use path,url_dec`);
  }
  if (metricsPort !== undefined && lines.some((l) => l.startsWith('server ') && l.includes(`:${metricsPort}`)))
    problems.push("proxy: routes the brokers' metrics port");
  const defaultCheck = backend.some((l) => l.startsWith('default-server') && /\bcheck\b/.test(l));
  for (const b of BROKERS) {
    const server = backend.find((l) => l.startsWith(`server ${b} `));
    if (!server || !server.includes(`${b}:${brokerPort}`)) problems.push(`proxy: no server ${b} at ${b}:${brokerPort}`);
    else if (!defaultCheck && !/\bcheck\b/.test(server)) problems.push(`proxy: ${b} is not health-checked`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
const REQUIRED_KINDS: Record<string, string> = {
  ServiceAccount: 'v1',
  ConfigMap: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2',
  PodDisruptionBudget: 'policy/v1',
  Job: 'batch/v1',
};
/** Stand-ins for the values of the Secret the operator creates (never committed). */
const SECRET_SAMPLES: Record<string, string> = {
  DATABASE_URL: 'postgresql://broker@postgres.example:5432/broker',
  REDIS_URL: 'redis://redis.example:6379',
  // What docs/deployment.md has the operator add for the optional read replica (docker/k8s/read-replica).
  AUDIT_READ_DATABASE_URL: 'postgresql://broker@postgres-replica.pos-session-broker.svc:5432/broker',
};

function quantity(q: unknown): number {
  const m = /^([\d.]+)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(q));
  if (!m) return NaN;
  const unit: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * (m[2] ? unit[m[2]] : 1);
}

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

function k8sProblems(docs: Yaml[], dockerUid: number): string[] {
  const problems: string[] = [];
  for (const [i, d] of docs.entries()) {
    if (!d?.apiVersion || !d?.kind || !d?.metadata?.name) problems.push(`k8s: document ${i} lacks apiVersion, kind or metadata.name`);
  }
  if (problems.length) return problems;
  const all = (kind: string) => docs.filter((d) => d.kind === kind);
  const one = (kind: string) => all(kind)[0];
  for (const [kind, apiVersion] of Object.entries(REQUIRED_KINDS)) {
    if (all(kind).length !== 1) problems.push(`k8s: expected one ${kind}, found ${all(kind).length}`);
    else if (one(kind).apiVersion !== apiVersion) problems.push(`k8s: ${kind} must be ${apiVersion}, not ${one(kind).apiVersion}`);
  }
  if (problems.length) return problems;
  const namespace = one('Namespace')?.metadata.name;
  for (const d of docs) {
    if (!CLUSTER_SCOPED.has(d.kind) && namespace && d.metadata.namespace !== namespace)
      problems.push(`k8s: ${d.kind} ${d.metadata.name} is not in namespace ${namespace}`);
    if (d.kind === 'Secret' && (Object.keys(d.data ?? {}).length || Object.keys(d.stringData ?? {}).length))
      problems.push(`k8s: Secret ${d.metadata.name} commits values`);
  }

  const deployment = one('Deployment');
  const pod = deployment.spec?.template?.spec ?? {};
  const podLabels: Record<string, string> = deployment.spec?.template?.metadata?.labels ?? {};
  if (!matches(deployment.spec?.selector?.matchLabels, podLabels)) problems.push('k8s: Deployment selector does not match its pod labels');
  const container = (pod.containers ?? [])[0] ?? {};
  const http = (container.ports ?? []).find((p: Yaml) => p.containerPort === 8080);
  if (!http) problems.push('k8s: the broker container must expose containerPort 8080 (the image EXPOSEs it)');
  const portOf = (p: unknown) => (typeof p === 'number' ? p : (container.ports ?? []).find((x: Yaml) => x.name === p)?.containerPort);
  for (const [probe, path] of [
    ['livenessProbe', '/health/live'],
    ['readinessProbe', '/health/ready'],
  ] as const) {
    const get = container[probe]?.httpGet;
    if (get?.path !== path) problems.push(`k8s: ${probe} must GET ${path}`);
    else if (portOf(get.port) !== 8080) problems.push(`k8s: ${probe} must use the container port 8080`);
  }
  for (const kind of ['requests', 'limits']) {
    for (const r of ['cpu', 'memory']) if (!container.resources?.[kind]?.[r]) problems.push(`k8s: the broker container has no ${r} ${kind}`);
  }
  for (const r of ['cpu', 'memory']) {
    if (quantity(container.resources?.requests?.[r]) > quantity(container.resources?.limits?.[r])) problems.push(`k8s: ${r} request above its limit`);
  }
  problems.push(...podSecurityProblems('Deployment', pod, dockerUid));

  // Settings: names from the schema, values the production configuration accepts.
  const configMaps = new Map<string, Record<string, string>>(all('ConfigMap').map((c) => [c.metadata.name, c.data ?? {}]));
  const effectiveEnv = (c: Yaml, who: string): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) {
      const data = configMaps.get(from.configMapRef?.name);
      if (from.configMapRef && !data) problems.push(`k8s: ${who} reads ConfigMap ${from.configMapRef.name}, which is not here`);
      Object.assign(env, data ?? {});
    }
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = String(e.value);
      else if (e.valueFrom?.secretKeyRef) env[e.name] = SECRET_SAMPLES[e.name] ?? 'secret';
      else if (e.valueFrom?.configMapKeyRef) env[e.name] = configMaps.get(e.valueFrom.configMapKeyRef.name)?.[e.valueFrom.configMapKeyRef.key] ?? '';
      const p = e.value !== undefined ? sensitiveValueProblem(`k8s ${who}`, e.name, '<literal>') : undefined;
      if (p) problems.push(`k8s: ${who} writes ${e.name} into the manifest; use a secretKeyRef`);
    }
    for (const name of Object.keys(env))
      if (!SCHEMA_KEYS.has(name)) problems.push(`k8s: ${who} sets ${name}, which is not a setting (src/config/config.schema.ts)`);
    return env;
  };
  for (const [name, data] of configMaps) {
    for (const key of Object.keys(data)) if (SENSITIVE_NAME.test(key)) problems.push(`k8s: ConfigMap ${name} holds ${key}; secrets go in a Secret`);
  }
  const env = effectiveEnv(container, 'Deployment');
  try {
    const config = validateConfig(env);
    if (config.NODE_ENV !== 'production') problems.push('k8s: NODE_ENV must be production');
    if (config.HOST !== '0.0.0.0') problems.push('k8s: HOST must be 0.0.0.0');
    if (config.PORT !== 8080) problems.push(`k8s: PORT ${config.PORT} is not the container port 8080`);
    problems.push(...operatorAuthProblems('k8s', config));
    problems.push(...trustedProxyProblems('k8s', config.TRUSTED_PROXIES));
    // Metrics on their own named port, scraped from the pods (annotations), never through the Service.
    const metricsPort = (container.ports ?? []).find((p: Yaml) => p.name === 'metrics')?.containerPort;
    if (config.METRICS_PORT === 'off' || config.METRICS_PORT === 8080) problems.push('k8s: metrics must be served on a port of their own (METRICS_PORT)');
    else if (metricsPort !== config.METRICS_PORT) problems.push(`k8s: the container port named metrics must be METRICS_PORT ${config.METRICS_PORT}`);
    const annotations: Record<string, string> = deployment.spec?.template?.metadata?.annotations ?? {};
    if (
      annotations['prometheus.io/scrape'] !== 'true' ||
      annotations['prometheus.io/port'] !== String(config.METRICS_PORT) ||
      (annotations['prometheus.io/path'] ?? '/metrics') !== '/metrics'
    ) {
      problems.push('k8s: the pod template needs prometheus.io/scrape "true", prometheus.io/port METRICS_PORT and prometheus.io/path /metrics');
    }
    const grace = Number(pod.terminationGracePeriodSeconds ?? 30);
    const preStop = Number((container.lifecycle?.preStop?.exec?.command ?? []).join(' ').match(/sleep (\d+)/)?.[1] ?? 0);
    if (grace < config.SHUTDOWN_TIMEOUT_MS / 1000 + preStop)
      problems.push(`k8s: terminationGracePeriodSeconds ${grace} < preStop ${preStop}s + SHUTDOWN_TIMEOUT_MS`);
  } catch (err) {
    problems.push(`k8s: the Deployment's settings are refused: ${(err as Error).message}`);
  }
  if (!env.REDIS_URL) problems.push('k8s: several replicas need REDIS_URL (shared rate limits, replay cache)');

  // Vault Kubernetes auth: the pod runs as the ServiceAccount and has its token mounted.
  const sa = one('ServiceAccount');
  if (pod.serviceAccountName !== sa.metadata.name) problems.push('k8s: the Deployment must run as the ServiceAccount Vault trusts');
  if (pod.automountServiceAccountToken === false || (sa.automountServiceAccountToken === false && pod.automountServiceAccountToken !== true)) {
    problems.push('k8s: the service-account token must be mounted (/var/run/secrets/kubernetes.io/serviceaccount/token) for Vault login');
  }
  const jwtPath = env.VAULT_KUBERNETES_JWT_PATH ?? String(configSchema.shape.VAULT_KUBERNETES_JWT_PATH.parse(undefined));
  const mounted = (container.volumeMounts ?? []).some((m: Yaml) => jwtPath.startsWith(String(m.mountPath).replace(/\/$/, '') + '/'));
  if (!jwtPath.startsWith(`${SERVICE_ACCOUNT_DIR}/`) && !mounted)
    problems.push(`k8s: VAULT_KUBERNETES_JWT_PATH ${jwtPath} is neither the service-account token nor a mounted file`);
  if (env.SECRETS_PROVIDER !== 'vault' || env.VAULT_AUTH_METHOD !== 'kubernetes' || !env.VAULT_KUBERNETES_ROLE) {
    problems.push('k8s: the broker must read secrets from Vault with Kubernetes auth (SECRETS_PROVIDER, VAULT_AUTH_METHOD, VAULT_KUBERNETES_ROLE)');
  }

  const service = one('Service');
  if (!matches(service.spec?.selector, podLabels)) problems.push('k8s: Service selector does not match the broker pods');
  for (const p of service.spec?.ports ?? []) if (portOf(p.targetPort) !== 8080) problems.push('k8s: Service targetPort is not the container port');

  const hpa = one('HorizontalPodAutoscaler');
  const target = hpa.spec?.scaleTargetRef ?? {};
  if (target.apiVersion !== 'apps/v1' || target.kind !== 'Deployment' || target.name !== deployment.metadata.name)
    problems.push('k8s: the HPA does not target the Deployment');
  if (!(hpa.spec?.minReplicas >= 2)) problems.push('k8s: the HPA must keep at least 2 replicas');
  if (!(hpa.spec?.maxReplicas >= hpa.spec?.minReplicas)) problems.push('k8s: HPA maxReplicas below minReplicas');
  if (!(hpa.spec?.metrics ?? []).length) problems.push('k8s: the HPA has no metrics');
  if (deployment.spec?.replicas !== undefined) problems.push('k8s: the Deployment sets replicas, which every apply resets under the HPA');

  const pdb = one('PodDisruptionBudget');
  const jobLabels = one('Job').spec?.template?.metadata?.labels;
  if (!matches(pdb.spec?.selector?.matchLabels, podLabels)) problems.push('k8s: the PodDisruptionBudget selector does not match the broker pods');
  else if (matches(pdb.spec.selector.matchLabels, jobLabels)) problems.push('k8s: the PodDisruptionBudget also selects the migration Job');
  const blocksAll =
    pdb.spec?.maxUnavailable !== undefined
      ? quantity(String(pdb.spec.maxUnavailable).replace('%', '')) < 1
      : !(Number(pdb.spec?.minAvailable) < hpa.spec?.minReplicas);
  if (blocksAll) problems.push('k8s: the PodDisruptionBudget allows no eviction at the HPA minimum (node drains would hang)');

  const job = one('Job');
  const jobPod = job.spec?.template?.spec ?? {};
  const jobContainer = (jobPod.containers ?? [])[0] ?? {};
  if (!['Never', 'OnFailure'].includes(jobPod.restartPolicy)) problems.push('k8s: the migration Job needs restartPolicy Never or OnFailure');
  if (!/node dist\/src\/cli\.js migrate$/.test([jobContainer.command, jobContainer.args].flat().filter(Boolean).join(' ')))
    problems.push('k8s: the Job must run `node dist/src/cli.js migrate`');
  if (jobContainer.image !== container.image) problems.push('k8s: the migration Job must use the broker image');
  const jobEnv = effectiveEnv(jobContainer, 'Job');
  if (!jobEnv.DATABASE_URL) problems.push('k8s: the migration Job has no DATABASE_URL');
  problems.push(...podSecurityProblems('Job', jobPod, dockerUid));
  return problems;
}

function podSecurityProblems(who: string, pod: Yaml, dockerUid: number): string[] {
  const problems: string[] = [];
  const psc = pod.securityContext ?? {};
  if (psc.runAsNonRoot !== true) problems.push(`k8s: ${who} pod needs runAsNonRoot: true`);
  if (psc.runAsUser !== undefined && psc.runAsUser !== dockerUid) problems.push(`k8s: ${who} runAsUser ${psc.runAsUser} is not the image's uid ${dockerUid}`);
  for (const c of pod.containers ?? []) {
    const sc = c.securityContext ?? {};
    if (sc.readOnlyRootFilesystem !== true) problems.push(`k8s: ${who} container ${c.name} needs readOnlyRootFilesystem: true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`k8s: ${who} container ${c.name} needs allowPrivilegeEscalation: false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`k8s: ${who} container ${c.name} must drop ALL capabilities`);
    if (!c.resources?.limits?.memory) problems.push(`k8s: ${who} container ${c.name} has no memory limit`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The optional read replica for the auditor API (AUDIT_READ_DATABASE_URL)

const REPLICA_PROFILE = 'replica';
const REPLICA_SERVICE = 'postgres-replica';
const PGDATA = '/var/lib/postgresql/data';

/** KEY=value lines of a Compose env file, each value interpolated with the lines before it and `env`. */
function parseEnvFile(text: string, env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_]\w*)=(.*)$/.exec(line);
    if (m) out[m[1]] = interpolate(m[2].trim(), { ...env, ...out });
  }
  return out;
}

/** The services `docker compose up` starts with these profiles on. */
function activeServices(compose: Yaml, profiles: string[]): Set<string> {
  const services: Record<string, Yaml> = compose?.services ?? {};
  return new Set(Object.keys(services).filter((n) => !services[n].profiles || services[n].profiles.some((p: string) => profiles.includes(p))));
}

/** The brokers' settings with the person's input and, when given, an env file's variables. */
function brokerConfig(compose: Yaml, fileEnv: Record<string, string> = {}): Config {
  const env = composeEnv(compose.services['broker-1']);
  return validateConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v, { ...COMPOSE_INPUT, ...fileEnv })])));
}

/**
 * Compose: by default one database (the replica in a profile nothing else needs, auditor reads on
 * the primary); with docker/replica.env, a hot standby made by pg_basebackup from postgres and the
 * brokers' AUDIT_READ_DATABASE_URL on it.
 */
function composeReplicaProblems(compose: Yaml, replicaEnv: string, file: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  const services: Record<string, Yaml> = compose?.services ?? {};
  const replica = services[REPLICA_SERVICE];
  if (!replica) return [`compose: no service ${REPLICA_SERVICE}`];

  if (JSON.stringify(replica.profiles) !== JSON.stringify([REPLICA_PROFILE]))
    problems.push(`compose: ${REPLICA_SERVICE} must be in the profile ${REPLICA_PROFILE} only (the default stack runs on one database)`);
  const byDefault = activeServices(compose, []);
  for (const name of byDefault) {
    for (const dep of Object.keys(dependsOn(services[name]))) {
      if (!byDefault.has(dep) && services[name].depends_on?.[dep]?.required !== false)
        problems.push(`compose: ${name} needs ${dep}, which the default stack does not start (depends_on required: false)`);
    }
  }
  try {
    if (brokerConfig(compose).AUDIT_READ_DATABASE_URL !== undefined)
      problems.push('compose: without docker/replica.env the brokers must read the audit trail from the primary (AUDIT_READ_DATABASE_URL empty)');
  } catch (err) {
    problems.push(`compose: the brokers' settings are refused: ${(err as Error).message}`);
  }

  // A hot standby of postgres, on a volume of its own.
  if (replica.image !== services.postgres?.image) problems.push(`compose: ${REPLICA_SERVICE} must run the image of postgres`);
  if (dependsOn(replica).postgres !== 'service_healthy') problems.push(`compose: ${REPLICA_SERVICE} must wait for postgres to be healthy`);
  const script = [joinWords(replica.entrypoint), joinWords(replica.command)].join(' ');
  if (!/\bpg_basebackup\b/.test(script) || !/(--host=|-h\s*)postgres\b/.test(script) || !/(--write-recovery-conf|\s-R)\b/.test(script))
    problems.push(`compose: ${REPLICA_SERVICE} must be made by pg_basebackup --write-recovery-conf from postgres`);
  if (!/\bexec postgres\b/.test(script)) problems.push(`compose: ${REPLICA_SERVICE} must then run postgres (a hot standby)`);
  const replicaData = mountAt(replica, PGDATA);
  if (!replicaData || replicaData.source === mountAt(services.postgres, PGDATA)?.source)
    problems.push(`compose: ${REPLICA_SERVICE} needs a data volume of its own`);
  // The primary accepts its replication connection.
  const hbaPath = /hba_file=(\S+)/.exec(joinWords(services.postgres?.command))?.[1];
  const hbaMount = hbaPath ? mountAt(services.postgres, hbaPath) : undefined;
  const hba = hbaMount && hbaMount.rest === '' ? file(hbaMount.source) : undefined;
  if (!hba?.split(/\r?\n/).some((l) => /^\s*host\s+replication\s/.test(l)))
    problems.push('compose: postgres must accept replication connections (an hba_file with a `host replication` line)');

  // docker/replica.env: the profile on and the brokers' auditor reads on the replica.
  const fileEnv = parseEnvFile(replicaEnv, {});
  if (!(fileEnv.COMPOSE_PROFILES ?? '').split(',').includes(REPLICA_PROFILE))
    problems.push(`compose: docker/replica.env must turn on the profile ${REPLICA_PROFILE} (COMPOSE_PROFILES)`);
  try {
    const config = brokerConfig(compose, fileEnv);
    const url = config.AUDIT_READ_DATABASE_URL ? new URL(config.AUDIT_READ_DATABASE_URL) : undefined;
    if (url?.hostname !== REPLICA_SERVICE) problems.push(`compose: with docker/replica.env, AUDIT_READ_DATABASE_URL must point at ${REPLICA_SERVICE}`);
    else if (url.pathname !== new URL(config.DATABASE_URL ?? 'postgresql://x/').pathname)
      problems.push('compose: AUDIT_READ_DATABASE_URL must name the database of DATABASE_URL');
    if (JSON.stringify(composeEnv(services['broker-1'])) !== JSON.stringify(composeEnv(services['broker-2'])))
      problems.push('compose: broker-1 and broker-2 settings differ');
  } catch (err) {
    problems.push(`compose: with docker/replica.env the brokers' settings are refused: ${(err as Error).message}`);
  }
  return problems;
}

/**
 * Kubernetes: the replica is optional, outside the manifests `kubectl apply -f docker/k8s/` applies
 * (docker/k8s/read-replica/): a StatefulSet made by pg_basebackup -R from the primary, a Service
 * in front of it, and a patch that gives the Deployment AUDIT_READ_DATABASE_URL from its Secret.
 */
function k8sReplicaProblems(base: Yaml[], replicaDocs: Yaml[], patch: Yaml, dockerUid: number): string[] {
  const problems: string[] = [];
  const deployment = base.find((d) => d.kind === 'Deployment');
  const namespace = base.find((d) => d.kind === 'Namespace')?.metadata.name;
  if (base.some((d) => d.kind === 'StatefulSet')) problems.push('k8s: the default manifests must not run a database');
  const brokerEnv = (d: Yaml): Yaml[] => d?.spec?.template?.spec?.containers?.[0]?.env ?? [];
  if (brokerEnv(deployment).some((e) => e.name === 'AUDIT_READ_DATABASE_URL'))
    problems.push('k8s: by default the brokers read the audit trail from the primary (no AUDIT_READ_DATABASE_URL)');

  const set = replicaDocs.find((d) => d.kind === 'StatefulSet');
  const service = replicaDocs.find((d) => d.kind === 'Service');
  if (!set || !service) return [...problems, 'k8s: read-replica needs a StatefulSet and a Service'];
  for (const d of [set, service]) if (d.metadata.namespace !== namespace) problems.push(`k8s: ${d.kind} ${d.metadata.name} is not in namespace ${namespace}`);
  const pod = set.spec?.template?.spec ?? {};
  const podLabels = set.spec?.template?.metadata?.labels;
  if (!matches(set.spec?.selector?.matchLabels, podLabels)) problems.push('k8s: the replica StatefulSet selector does not match its pods');
  if (!matches(service.spec?.selector, podLabels)) problems.push('k8s: the replica Service does not select the replica pods');
  if (matches(deployment.spec?.selector?.matchLabels, podLabels)) problems.push('k8s: the replica pods carry the broker pods’ labels');
  const postgres = (pod.containers ?? [])[0] ?? {};
  const port = (postgres.ports ?? []).find((p: Yaml) => p.containerPort === 5432);
  if (!port || !(service.spec?.ports ?? []).some((p: Yaml) => p.port === 5432 && (p.targetPort === 5432 || p.targetPort === port.name)))
    problems.push('k8s: the replica Service must reach Postgres on 5432');
  const init = [...(pod.initContainers ?? []), postgres].map((c: Yaml) => [joinWords(c.command), joinWords(c.args)].join(' ')).join(' ');
  if (!/\bpg_basebackup\b/.test(init) || !/(--write-recovery-conf|\s-R)\b/.test(init))
    problems.push('k8s: the replica must be made by pg_basebackup --write-recovery-conf (a standby of the primary)');
  if (!/^postgres\b/.test(joinWords(postgres.command))) problems.push('k8s: the replica container must run postgres');
  if (!postgres.readinessProbe) problems.push('k8s: the replica needs a readinessProbe');
  if (!(set.spec?.volumeClaimTemplates ?? []).some((t: Yaml) => (postgres.volumeMounts ?? []).some((m: Yaml) => m.name === t.metadata?.name)))
    problems.push('k8s: the replica needs a persistent volume for its data');
  if (!(pod.securityContext?.runAsUser > 0)) problems.push('k8s: the replica pod must name its non-root uid (runAsUser)');
  problems.push(
    ...podSecurityProblems('replica', { ...pod, containers: [...(pod.initContainers ?? []), ...(pod.containers ?? [])] }, pod.securityContext?.runAsUser),
  );

  // The patch: AUDIT_READ_DATABASE_URL from the brokers' own Secret, and the patched Deployment still valid.
  const container = (patch?.spec?.template?.spec?.containers ?? []).find((c: Yaml) => c.name === deployment.spec.template.spec.containers[0].name);
  const entry = (container?.env ?? []).find((e: Yaml) => e.name === 'AUDIT_READ_DATABASE_URL');
  const secretOf = (name: string) => brokerEnv(deployment).find((e) => e.name === name)?.valueFrom?.secretKeyRef?.name;
  if (!entry?.valueFrom?.secretKeyRef || entry.valueFrom.secretKeyRef.name !== secretOf('DATABASE_URL'))
    problems.push('k8s: the patch must take AUDIT_READ_DATABASE_URL from the Secret that holds DATABASE_URL');
  const patched = JSON.parse(JSON.stringify(base)) as Yaml[];
  const target = patched.find((d) => d.kind === 'Deployment').spec.template.spec.containers[0];
  target.env = [...(target.env ?? []).filter((e: Yaml) => !(container?.env ?? []).some((p: Yaml) => p.name === e.name)), ...(container?.env ?? [])];
  if (new URL(SECRET_SAMPLES.AUDIT_READ_DATABASE_URL).hostname !== `${service.metadata.name}.${namespace}.svc`)
    problems.push('k8s: the Secret value the patch reads (docs/deployment.md) must name the replica Service');
  problems.push(...k8sProblems(patched, dockerUid).map((p) => `with the read-replica patch, ${p}`));
  return problems;
}

// ---------------------------------------------------------------------------------------------

const DOCKERFILE = read('docker/Dockerfile');
const COMPOSE_TEXT = read('docker/compose.yaml');
const K8S_FILES = readdirSync(join(DOCKER, 'k8s'))
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

function loadCompose(text: string): Yaml {
  // JSON round trip: YAML aliases would otherwise share one object between broker-1 and broker-2.
  return JSON.parse(JSON.stringify(parse(text, { merge: true })));
}
function loadYamlDocs(...path: string[]): Yaml[] {
  return parseAllDocuments(read(...path))
    .map((d) => {
      if (d.errors.length) throw new Error(`${path.join('/')}: ${d.errors[0].message}`);
      return d.toJS();
    })
    .filter((d) => d !== null);
}
function loadK8s(): Yaml[] {
  return K8S_FILES.flatMap((f) => loadYamlDocs('docker/k8s', f));
}
const REPLICA_ENV_TEXT = read('docker/replica.env');
const loadReplicaK8s = () => loadYamlDocs('docker/k8s/read-replica/postgres-replica.yaml');
const loadReplicaPatch = () => loadYamlDocs('docker/k8s/read-replica/broker-patch.yaml')[0];
const proxyFile = (path: string) => (existsSync(join(DOCKER, path)) ? readFileSync(join(DOCKER, path), 'utf8') : undefined);
const dockerUid = () =>
  Number(
    parseDockerfile(DOCKERFILE)
      .pop()!
      .instructions.filter((i) => i.keyword === 'USER')
      .pop()!
      .args.split(':')[0],
  );

describe('deployment artefacts (checked statically: no Docker engine or cluster here)', () => {
  it('docker/Dockerfile: multi-stage, Node 24, non-root, HEALTHCHECK on /health/live, production dependencies only', () => {
    expect(dockerfileProblems(DOCKERFILE)).toEqual([]);
  });

  it('.dockerignore keeps local state out of the build context and lets the sources in', () => {
    expect(dockerignoreProblems(read('.dockerignore'), DOCKERFILE)).toEqual([]);
  });

  it('docker/compose.yaml: two brokers behind a health-checking proxy, Postgres, Redis, seeded dev Vault, migrations first', () => {
    expect(composeProblems(loadCompose(COMPOSE_TEXT), proxyFile)).toEqual([]);
  });

  it('compose refuses to start without a gateway URL rather than inventing one', () => {
    const env = composeEnv(loadCompose(COMPOSE_TEXT).services['broker-1']);
    expect(() => interpolate(env.HYP_DEFAULT_ENDPOINT, {})).toThrow(/HYP_DEFAULT_ENDPOINT/);
    expect(() => interpolate(env.OPERATOR_JWKS_URI, {})).toThrow(/OPERATOR_JWKS_URI/);
    expect(() => interpolate(env.OPERATOR_JWT_ISSUER, {})).toThrow(/OPERATOR_JWT_ISSUER/);
  });

  it('docker/k8s: Deployment, Service, HPA, PDB, migration Job, ServiceAccount for Vault Kubernetes auth, consistent with the image', () => {
    expect(k8sProblems(loadK8s(), dockerUid())).toEqual([]);
  });

  it('an optional streaming read replica for auditor reads: compose profile "replica" (docker/replica.env), docker/k8s/read-replica; the default stack needs none', () => {
    const compose = loadCompose(COMPOSE_TEXT);
    expect(composeReplicaProblems(compose, REPLICA_ENV_TEXT, proxyFile)).toEqual([]);
    expect([...activeServices(compose, [])]).not.toContain(REPLICA_SERVICE);
    expect([...activeServices(compose, [REPLICA_PROFILE])]).toContain(REPLICA_SERVICE);
    expect(brokerConfig(compose).AUDIT_READ_DATABASE_URL).toBeUndefined();
    expect(k8sReplicaProblems(loadK8s(), loadReplicaK8s(), loadReplicaPatch(), dockerUid())).toEqual([]);
    // `kubectl apply -f docker/k8s/` does not descend into read-replica/.
    expect(K8S_FILES.some((f) => f.includes('replica'))).toBe(false);
  });

  it('the production build (npm run build, in the image) compiles no sandbox, embedded runner, script or bench', () => {
    const listed = execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--listFilesOnly'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\n')
      .filter((f) => f.startsWith(ROOT) && !f.includes('/node_modules/'))
      .map((f) => f.slice(ROOT.length + 1));
    expect(listed).toContain('src/main.ts');
    expect(listed).toContain('src/cli.ts');
    expect(listed.filter((f) => /^(src\/(sandbox|embedded)\/|scripts\/|bench\/|test\/)/.test(f))).toEqual([]);
    // `npm start` and the benches build everything else with tsconfig.dev.json.
    const dev = execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.dev.json'), '--listFilesOnly'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(dev).toContain('src/embedded/run-embedded.ts');
  }, 60_000);

  it('the image carries the operator console, built from console/ in the build stage', () => {
    const stages = DOCKERFILE.split(/^FROM /m).slice(1);
    const build = stages.find((st) => /AS build/.test(st)) ?? '';
    const final = stages[stages.length - 1] ?? '';
    expect(build).toMatch(/^COPY console \.\/console$/m);
    expect(build).toMatch(/npm ci --prefix console && npm run --prefix console build/);
    expect(final).toMatch(/^COPY --from=build \/app\/console\/dist \.\/console\/dist$/m);
    // Where the broker looks for it by default (the image's working directory is /app).
    expect(configSchema.parse({}).CONSOLE_DIST_DIR).toBe('./console/dist');
  });

  it('no committed file under docker/ carries a secret', () => {
    const files = readdirSync(DOCKER, { recursive: true, encoding: 'utf8' })
      .map((f) => `docker/${f}`)
      .filter((f) => statSync(join(ROOT, f)).isFile());
    expect(files).toEqual(expect.arrayContaining(['docker/Dockerfile', 'docker/compose.yaml', 'docker/haproxy.cfg', 'docker/k8s/deployment.yaml']));
    expect(files.flatMap((f) => secretLookingProblems(f, read(f)))).toEqual([]);
  });
});

describe('the deployment checks catch broken artefacts', () => {
  const dockerfileWith = (from: string | RegExp, to: string) => {
    const changed = DOCKERFILE.replace(from, to);
    expect(changed).not.toBe(DOCKERFILE);
    return dockerfileProblems(changed);
  };

  it('Dockerfile: one stage, root, no HEALTHCHECK, curl, wrong port, Node 20', () => {
    const stages = parseDockerfile(DOCKERFILE);
    expect(dockerfileWith(/FROM \$\{NODE_IMAGE\} AS build[\s\S]*?(?=FROM)/, '')).toEqual([expect.stringMatching(/multi-stage/)]);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfileWith(/^USER .*$/m, 'USER root')).toContainEqual(expect.stringMatching(/runs as root/));
    expect(dockerfileWith(/^USER .*$/m, '')).toContainEqual(expect.stringMatching(/runs as root/));
    expect(dockerfileWith(/^USER .*$/m, 'USER node')).toContainEqual(expect.stringMatching(/numeric uid/));
    expect(dockerfileWith(/^HEALTHCHECK[\s\S]*?\]\n/m, '')).toContainEqual(expect.stringMatching(/no HEALTHCHECK/));
    expect(dockerfileWith(/CMD \["node", "-e".*\]/, 'CMD curl -f http://127.0.0.1:8080/health/live')).toContainEqual(expect.stringMatching(/curl/));
    expect(dockerfileWith(/^EXPOSE 8080$/m, 'EXPOSE 3000')).toContainEqual(expect.stringMatching(/EXPOSE 8080/));
    expect(dockerfileWith(/HOST=0\.0\.0\.0/, 'HOST=127.0.0.1')).toContainEqual(expect.stringMatching(/HOST=0\.0\.0\.0/));
    expect(dockerfileWith(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=node:20-bookworm-slim')).toContainEqual(expect.stringMatching(/Node 24/));
    expect(dockerfileWith(/^ARG NODE_IMAGE=.*$/m, 'ARG NODE_IMAGE=node')).toContainEqual(expect.stringMatching(/pin a tag/));
  });

  it('Dockerfile: dev dependencies, install scripts or node_modules from the build stage in the final image', () => {
    // --omit=dev alone keeps prisma and typescript (devDependencies that are optional peers).
    expect(dockerfileWith('npm ci --omit=dev --omit=optional', 'npm ci --omit=dev')).toContainEqual(
      expect.stringMatching(/development-only packages, devDependencies: .*prisma/),
    );
    expect(dockerfileWith('npm ci --omit=dev --omit=optional', 'npm ci')).toContainEqual(
      expect.stringMatching(/development-only packages, devDependencies: .*jest/),
    );
    expect(dockerfileWith('npm ci --omit=dev --omit=optional', 'npm install --omit=dev --omit=optional')).toContainEqual(expect.stringMatching(/use npm ci/));
    expect(dockerfileWith(/--omit=optional --ignore-scripts/, '--omit=optional')).toContainEqual(expect.stringMatching(/install scripts/));
    const copiesModules = dockerfileWith(
      /^COPY --from=build .*$/m,
      'COPY --from=build /app/node_modules ./node_modules\nCOPY --from=build /app/dist/src ./dist/src',
    );
    expect(copiesModules).toContainEqual(expect.stringMatching(/copies node_modules/));
  });

  it('Dockerfile: an entry point or migrations the image would not have', () => {
    expect(dockerfileWith('CMD ["node", "dist/src/main.js"]', 'CMD ["node", "dist/main.js"]')).toContainEqual(
      expect.stringMatching(/CMD runs \/app\/dist\/main\.js/),
    );
    expect(dockerfileWith('CMD ["node", "dist/src/main.js"]', 'CMD node dist/src/main.js')).toContainEqual(expect.stringMatching(/exec form/));
    expect(dockerfileWith(/^COPY prisma\/migrations .*$/m, '')).toContainEqual(expect.stringMatching(/prisma\/migrations/));
    expect(dockerfileWith(/^COPY prisma\/migrations .*$/m, 'COPY prisma/migrations /migrations')).toContainEqual(expect.stringMatching(/prisma\/migrations/));
    expect(dockerfileWith(/^COPY --from=build .*$/m, 'COPY --from=build /app/dist ./build')).toContainEqual(expect.stringMatching(/lands at/));
  });

  it('.dockerignore: shipping node_modules or .env, or hiding a copied source', () => {
    const ignore = read('.dockerignore');
    expect(dockerignoreProblems(ignore.replace(/^node_modules$/m, ''), DOCKERFILE)).toEqual(['.dockerignore must exclude node_modules']);
    expect(dockerignoreProblems(ignore.replace(/^\.env$/m, ''), DOCKERFILE)).toContainEqual('.dockerignore must exclude .env');
    expect(dockerignoreProblems(`${ignore}\nprisma\n`, DOCKERFILE)).toContainEqual(expect.stringMatching(/excludes prisma/));
  });

  it('compose: missing services, health checks and start order; unknown or refused settings; published brokers', () => {
    const broken = (edit: (c: Yaml) => void) => {
      const c = loadCompose(COMPOSE_TEXT);
      edit(c);
      return composeProblems(c, proxyFile);
    };
    expect(broken((c) => delete c.services['broker-2'])).toContainEqual('compose: no service broker-2');
    expect(broken((c) => (c.services.redis.helthcheck = c.services.redis.healthcheck))).toContainEqual('compose: redis.helthcheck is not a service key');
    expect(broken((c) => (c.services.redis.healthcheck.start_periode = '5s'))).toContainEqual(
      'compose: redis.healthcheck.start_periode is not a healthcheck key',
    );
    expect(broken((c) => (c.services.migrate.depends_on.postgres.condition = 'service_healty'))).toContainEqual(
      expect.stringMatching(/migrate depends on postgres without a condition/),
    );
    expect(broken((c) => delete c.services.postgres.healthcheck)).toContainEqual(expect.stringMatching(/postgres has no healthcheck/));
    expect(broken((c) => (c.services['broker-1'].depends_on = ['postgres', 'redis']))).toContainEqual(
      expect.stringMatching(/broker-1 depends on postgres without a condition/),
    );
    expect(broken((c) => delete c.services['broker-2'].depends_on.migrate)).toContainEqual(expect.stringMatching(/broker-2 must depend on migrate/));
    expect(broken((c) => delete c.services.proxy.depends_on['broker-1'])).toContainEqual(expect.stringMatching(/proxy must depend on broker-1/));
    expect(broken((c) => (c.services['broker-1'].environment.HYP_ENDPOINT = 'https://x.example'))).toContainEqual(
      expect.stringMatching(/sets HYP_ENDPOINT, which is not a setting/),
    );
    expect(broken((c) => (c.services['broker-1'].environment.PORT = '9090'))).toContainEqual('compose: broker-1 and broker-2 settings differ');
    const plainHttp = broken((c) => BROKERS.forEach((b) => (c.services[b].environment.HYP_DEFAULT_ENDPOINT = 'http://hyp.example/xpo/Relay')));
    expect(plainHttp).toContainEqual(expect.stringMatching(/settings are refused: .*HYP_DEFAULT_ENDPOINT/s));
    const noOperators = broken((c) => [...BROKERS, 'migrate'].forEach((b) => delete c.services[b].environment.OPERATOR_JWKS_URI));
    expect(noOperators).toContainEqual(expect.stringMatching(/compose: no operator key source/));
    expect(broken((c) => (c.services['broker-1'].ports = ['8081:8080']))).toContainEqual(expect.stringMatching(/broker-1 is published/));
    const everyone = broken((c) => BROKERS.forEach((b) => (c.services[b].environment.TRUSTED_PROXIES = '0.0.0.0/0')));
    expect(everyone).toContainEqual(expect.stringMatching(/TRUSTED_PROXIES trusts public addresses/));
    expect(broken((c) => BROKERS.forEach((b) => (c.services[b].environment.TRUSTED_PROXIES = '172.30.0.201')))).toContainEqual(
      expect.stringMatching(/must trust its address 172\.30\.0\.200/),
    );
    expect(broken((c) => delete c.services.proxy.networks)).toContainEqual(expect.stringMatching(/proxy needs a fixed address/));
    const oldSetting = broken((c) => BROKERS.forEach((b) => (c.services[b].environment.TRUST_PROXY = 'true')));
    expect(oldSetting).toContainEqual(expect.stringMatching(/TRUST_PROXY: is replaced by TRUSTED_PROXIES/));
    expect(broken((c) => BROKERS.forEach((b) => (c.services[b].environment.METRICS_PORT = 'off')))).toContainEqual(
      expect.stringMatching(/metrics on a port of their own/),
    );
    expect(broken((c) => (c.services.vault.command = ['server']))).toContainEqual(expect.stringMatching(/server -dev/));
    expect(broken((c) => (c.services['vault-seed'].volumes = ['./vault-missing:/setup:ro']))).toContainEqual(
      expect.stringMatching(/mounts \.\/vault-missing, which does not exist/),
    );
    expect(broken((c) => (c.services.vault.command = ['server', '-dev']))).toContainEqual(expect.stringMatching(/-dev-tls with -dev-tls-cert-dir/));
    expect(broken((c) => (c.services.vault.command = c.services.vault.command.filter((w: string) => !w.startsWith('-dev-tls-san'))))).toContainEqual(
      expect.stringMatching(/certificate must name vault/),
    );
    const plainVault = broken((c) => BROKERS.forEach((b) => (c.services[b].environment.VAULT_ADDR = 'http://vault:8200')));
    expect(plainVault).toContainEqual(expect.stringMatching(/settings are refused: .*VAULT_ADDR: must be https/s));
    expect(broken((c) => (c.services['broker-2'].environment.VAULT_CA_FILE = '/etc/ssl/certs/ca-certificates.crt'))).toContainEqual(
      expect.stringMatching(/broker-2 VAULT_CA_FILE is not the CA vault generates/),
    );
    expect(broken((c) => (c.services['vault-seed'].environment.SECRET_ID_FILE = '/tmp/secret-id'))).toContainEqual(
      expect.stringMatching(/broker-1 VAULT_APPROLE_SECRET_ID_FILE is not the file vault-seed writes/),
    );
    expect(
      broken((c) => (c.services['broker-1'].volumes = c.services['broker-1'].volumes.filter((v: string) => !v.startsWith('vault-approle')))),
    ).toContainEqual('compose: broker-1 reads VAULT_APPROLE_ROLE_ID_FILE=/vault-approle/role-id, which no volume provides');
    expect(broken((c) => (c.services['vault-seed'].command = ['/bin/sh /vault-setup/seed.sh']))).toContainEqual(
      'compose: vault-seed must run docker/vault/setup.sh',
    );
    expect(broken((c) => (c.services.migrate.build.dockerfile = 'Dockerfile'))).toContainEqual(expect.stringMatching(/migrate must build docker\/Dockerfile/));
    expect(broken((c) => (c.services['broker-2'].build = { context: '.', dockerfile: 'Dockerfile' }))).toContainEqual(
      expect.stringMatching(/broker-2 must build docker\/Dockerfile/),
    );
  });

  it('read replica: on by default, needed by default, not a standby, sharing the data volume, wired elsewhere', () => {
    const broken = (edit: (c: Yaml) => void, env = REPLICA_ENV_TEXT, file = proxyFile) => {
      const c = loadCompose(COMPOSE_TEXT);
      edit(c);
      return composeReplicaProblems(c, env, file);
    };
    expect(broken((c) => delete c.services[REPLICA_SERVICE].profiles)).toContainEqual(expect.stringMatching(/must be in the profile replica only/));
    expect(broken((c) => delete c.services['broker-1'].depends_on[REPLICA_SERVICE].required)).toContainEqual(
      expect.stringMatching(/broker-1 needs postgres-replica, which the default stack does not start/),
    );
    expect(
      broken((c) => BROKERS.forEach((b) => (c.services[b].environment.AUDIT_READ_DATABASE_URL = 'postgresql://broker@postgres-replica:5432/broker'))),
    ).toContainEqual(expect.stringMatching(/without docker\/replica\.env the brokers must read the audit trail from the primary/));
    expect(broken(() => undefined, REPLICA_ENV_TEXT.replace('@postgres-replica:', '@postgres:'))).toContainEqual(
      expect.stringMatching(/AUDIT_READ_DATABASE_URL must point at postgres-replica/),
    );
    expect(broken(() => undefined, REPLICA_ENV_TEXT.replace(/^COMPOSE_PROFILES=.*$/m, ''))).toContainEqual(
      expect.stringMatching(/turn on the profile replica/),
    );
    expect(broken((c) => (c.services[REPLICA_SERVICE].command = ['exec postgres']))).toContainEqual(expect.stringMatching(/made by pg_basebackup/));
    expect(broken((c) => (c.services[REPLICA_SERVICE].volumes = ['pgdata:/var/lib/postgresql/data']))).toContainEqual(
      expect.stringMatching(/needs a data volume of its own/),
    );
    const noReplication = (path: string) => proxyFile(path)?.replace(/^host\s+replication.*$/m, '');
    expect(broken(() => undefined, REPLICA_ENV_TEXT, noReplication)).toContainEqual(expect.stringMatching(/postgres must accept replication connections/));
    expect(broken((c) => delete c.services.postgres.command)).toContainEqual(expect.stringMatching(/postgres must accept replication connections/));

    const k8sBroken = (edit: (base: Yaml[], replica: Yaml[], patch: Yaml) => void) => {
      const [base, replica, patch] = [loadK8s(), loadReplicaK8s(), loadReplicaPatch()];
      edit(base, replica, patch);
      return k8sReplicaProblems(base, replica, patch, dockerUid());
    };
    const set = (docs: Yaml[]) => docs.find((d) => d.kind === 'StatefulSet');
    expect(k8sBroken((base, replica) => base.push(set(replica)))).toContainEqual('k8s: the default manifests must not run a database');
    expect(k8sBroken((_, __, patch) => (patch.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name = 'other'))).toContainEqual(
      expect.stringMatching(/from the Secret that holds DATABASE_URL/),
    );
    expect(k8sBroken((_, __, patch) => (patch.spec.template.spec.containers[0].name = 'api'))).toContainEqual(
      expect.stringMatching(/from the Secret that holds DATABASE_URL/),
    );
    expect(k8sBroken((_, replica) => (replica.find((d) => d.kind === 'Service').spec.selector = { app: 'db' }))).toContainEqual(
      'k8s: the replica Service does not select the replica pods',
    );
    expect(k8sBroken((_, replica) => delete set(replica).spec.template.spec.initContainers)).toContainEqual(
      expect.stringMatching(/made by pg_basebackup --write-recovery-conf/),
    );
    expect(k8sBroken((_, replica) => (set(replica).spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false))).toContainEqual(
      expect.stringMatching(/replica container postgres needs readOnlyRootFilesystem/),
    );
  });

  it('compose: a proxy that skips a broker, does not check health or listens elsewhere', () => {
    const cfg = proxyFile('haproxy.cfg')!;
    expect(haproxyProblems(cfg, 8080)).toEqual([]);
    expect(haproxyProblems(cfg.replace(/^\s*server broker-2 .*$/m, ''), 8080)).toEqual(['proxy: no server broker-2 at broker-2:8080']);
    expect(haproxyProblems(cfg.replace('balance roundrobin', 'balance source'), 8080)).toEqual(['proxy: balance must be roundrobin']);
    expect(haproxyProblems(cfg.replace(/^.*default-server.*$/m, ''), 8080)).toEqual([
      'proxy: broker-1 is not health-checked',
      'proxy: broker-2 is not health-checked',
    ]);
    expect(haproxyProblems(cfg.replace('uri /health/ready', 'uri /'), 8080)).toEqual(['proxy: brokers must be checked on /health/ready']);
    expect(haproxyProblems(cfg, 9090)).toHaveLength(2);
    expect(haproxyProblems(cfg.replace('path,url_dec -m beg /health/ready', 'path_beg /health/ready'), 8080)).toEqual([
      expect.stringMatching(/matches the raw path; use path,url_dec/),
    ]);
    expect(haproxyProblems(`${cfg}\nbackend metrics\n    server m1 broker-1:9464\n`, 8080, 9464)).toContainEqual("proxy: routes the brokers' metrics port");
  });

  it('k8s: probes, limits, security context, HPA target, PDB selector, settings, Job image', () => {
    const broken = (edit: (docs: Yaml[], find: (kind: string) => Yaml) => void) => {
      const docs = loadK8s();
      edit(docs, (kind) => docs.find((d) => d.kind === kind));
      return k8sProblems(docs, dockerUid());
    };
    const broker = (d: Yaml) => d.spec.template.spec.containers[0];
    expect(broken((docs) => delete docs[0].metadata.name)).toEqual([expect.stringMatching(/lacks apiVersion, kind or metadata\.name/)]);
    expect(broken((_, f) => (f('HorizontalPodAutoscaler').apiVersion = 'autoscaling/v1'))).toContainEqual(expect.stringMatching(/autoscaling\/v2/));
    expect(broken((_, f) => (broker(f('Deployment')).livenessProbe.httpGet.path = '/health'))).toContainEqual('k8s: livenessProbe must GET /health/live');
    expect(broken((_, f) => (broker(f('Deployment')).readinessProbe.httpGet.port = 'metrics'))).toContainEqual(
      'k8s: readinessProbe must use the container port 8080',
    );
    expect(broken((_, f) => delete broker(f('Deployment')).resources.limits)).toContainEqual('k8s: the broker container has no memory limits');
    expect(broken((_, f) => (broker(f('Deployment')).resources.requests.memory = '2Gi'))).toContainEqual('k8s: memory request above its limit');
    expect(broken((_, f) => (broker(f('Deployment')).securityContext.readOnlyRootFilesystem = false))).toContainEqual(
      expect.stringMatching(/readOnlyRootFilesystem/),
    );
    expect(broken((_, f) => (f('Deployment').spec.template.spec.securityContext.runAsNonRoot = false))).toContainEqual(expect.stringMatching(/runAsNonRoot/));
    expect(broken((_, f) => (f('Job').spec.template.spec.securityContext.runAsUser = 0))).toContainEqual(
      expect.stringMatching(/runAsUser 0 is not the image's uid/),
    );
    expect(broken((_, f) => (f('HorizontalPodAutoscaler').spec.scaleTargetRef.name = 'other'))).toContainEqual('k8s: the HPA does not target the Deployment');
    expect(broken((_, f) => (f('PodDisruptionBudget').spec.selector.matchLabels = { app: 'broker' }))).toContainEqual(
      expect.stringMatching(/PodDisruptionBudget selector does not match/),
    );
    expect(broken((_, f) => (f('PodDisruptionBudget').spec.maxUnavailable = 0))).toContainEqual(expect.stringMatching(/allows no eviction/));
    expect(
      broken((_, f) => (f('Service').spec.selector = { 'app.kubernetes.io/name': 'pos-session-broker', 'app.kubernetes.io/component': 'api' })),
    ).toContainEqual('k8s: Service selector does not match the broker pods');
    expect(broken((_, f) => (f('ConfigMap').data.VAULT_ROLE = 'x'))).toContainEqual(expect.stringMatching(/sets VAULT_ROLE, which is not a setting/));
    expect(broken((_, f) => (f('ConfigMap').data.TRUSTED_PROXIES = '0.0.0.0/0'))).toContainEqual(
      expect.stringMatching(/TRUSTED_PROXIES trusts public addresses/),
    );
    expect(broken((_, f) => delete f('ConfigMap').data.TRUSTED_PROXIES)).toContainEqual(expect.stringMatching(/TRUSTED_PROXIES must name it/));
    expect(broken((_, f) => (broker(f('Deployment')).ports = broker(f('Deployment')).ports.filter((p: Yaml) => p.name !== 'metrics')))).toContainEqual(
      expect.stringMatching(/container port named metrics must be METRICS_PORT 9464/),
    );
    expect(broken((_, f) => delete f('Deployment').spec.template.metadata.annotations)).toContainEqual(expect.stringMatching(/prometheus\.io\/scrape/));
    expect(broken((_, f) => f('Service').spec.ports.push({ name: 'metrics', port: 9464, targetPort: 'metrics' }))).toContainEqual(
      'k8s: Service targetPort is not the container port',
    );
    expect(broken((_, f) => (f('ConfigMap').data.DB_PASSWORD = 'x'))).toContainEqual(expect.stringMatching(/holds DB_PASSWORD/));
    expect(broken((_, f) => (f('ConfigMap').data.HYP_DEFAULT_ENDPOINT = 'http://127.0.0.1:8081/xpo/Relay'))).toContainEqual(
      expect.stringMatching(/settings are refused/),
    );
    expect(broken((_, f) => delete f('ConfigMap').data.OPERATOR_JWKS_URI)).toContainEqual(expect.stringMatching(/no operator key source/));
    expect(broken((_, f) => (f('ConfigMap').data.VAULT_AUTH_METHOD = 'token'))).toContainEqual(expect.stringMatching(/Vault with Kubernetes auth/));
    expect(broken((_, f) => (f('Deployment').spec.template.spec.automountServiceAccountToken = false))).toContainEqual(
      expect.stringMatching(/service-account token must be mounted/),
    );
    expect(broken((_, f) => (f('ConfigMap').data.VAULT_KUBERNETES_JWT_PATH = '/etc/token'))).toContainEqual(
      expect.stringMatching(/VAULT_KUBERNETES_JWT_PATH \/etc\/token/),
    );
    expect(broken((_, f) => (f('Deployment').spec.template.spec.terminationGracePeriodSeconds = 10))).toContainEqual(
      expect.stringMatching(/terminationGracePeriodSeconds 10/),
    );
    expect(broken((_, f) => (broker(f('Job')).image = 'registry.example.com/pos-session-broker:0.0.9'))).toContainEqual(
      'k8s: the migration Job must use the broker image',
    );
    expect(
      broken((docs) =>
        docs.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'pos-session-broker' }, stringData: { DATABASE_URL: 'x' } }),
      ),
    ).toContainEqual('k8s: Secret s commits values');
  });

  it('secrets: keys, tokens, passwords in URLs, literal sensitive settings', () => {
    expect(secretLookingProblems('f', 'VAULT_TOKEN: hvs.CAESIJ3bq2Vv8fKx0xYzQ1w2e3r4t5y6u7i8o9p')).toContainEqual('f: a Vault token');
    expect(secretLookingProblems('f', 'key: |\n  -----BEGIN EC PRIVATE KEY-----\n')).toContainEqual('f: a private key');
    expect(secretLookingProblems('f', 'DATABASE_URL: postgresql://broker:S3cr3tPassw0rd@db:5432/broker')).toContainEqual(
      expect.stringMatching(/password in a URL/),
    );
    expect(secretLookingProblems('f', 'DATABASE_URL: postgresql://broker:${POSTGRES_PASSWORD:-dev-only}@db:5432/broker')).toEqual([]);
    expect(secretLookingProblems('f', 'x: 9fK2mQ7vX1pL8sR4tY6uW3zA5bC0dE2gH4jN6')).toContainEqual(expect.stringMatching(/high-entropy/));
    expect(sensitiveValueProblem('c', 'POSTGRES_PASSWORD', 'hunter2')).toMatch(/written into the file/);
    expect(sensitiveValueProblem('c', 'POSTGRES_PASSWORD', '${POSTGRES_PASSWORD:-hunter2}')).toMatch(/dev-only/);
    expect(sensitiveValueProblem('c', 'POSTGRES_PASSWORD', '${POSTGRES_PASSWORD:-broker-dev-only}')).toBeUndefined();
  });
});
