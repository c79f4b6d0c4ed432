import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { request } from 'undici';

const DIST = join(__dirname, '..');

/**
 * The NODE_OPTIONS the production image starts the broker with (docker/Dockerfile's `ENV
 * NODE_OPTIONS`), so that a bench measures the broker as it runs in production; '' without one.
 */
export function productionNodeOptions(): string {
  const dockerfile = readFileSync(join(DIST, '..', 'docker', 'Dockerfile'), 'utf8');
  return /^ENV NODE_OPTIONS="([^"]*)"\s*$/m.exec(dockerfile)?.[1] ?? '';
}
const CLK_TCK = 100; // Linux USER_HZ

export interface Proc {
  child: ChildProcess;
  /** CPU seconds (user + system) the process has used so far. */
  cpuSeconds(): number;
  /** Peak resident set size so far, in MiB. */
  peakRssMiB(): number;
  stop(): Promise<number | null>;
}

/**
 * Starts `node [nodeArgs] script [scriptArgs]`: `script` relative to the compiled tree (dist/), or
 * absolute (the perf anchor's files, run from `cwd`).
 */
export function startNode(script: string, env: Record<string, string>, nodeArgs: string[] = [], scriptArgs: string[] = [], cwd?: string): Proc {
  const child = spawn(process.execPath, [...nodeArgs, isAbsolute(script) ? script : join(DIST, script), ...scriptArgs], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`${script} exited ${code}: ${stderr}\n`);
  });
  return {
    child,
    cpuSeconds: () => {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
    },
    peakRssMiB: () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : NaN;
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

/** Waits for a 200 (or, with anyStatus, for any HTTP answer at all). */
export async function waitForReady(url: string, timeoutMs = 20_000, anyStatus = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await request(url);
      await res.body.dump();
      if (anyStatus || res.statusCode === 200) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
