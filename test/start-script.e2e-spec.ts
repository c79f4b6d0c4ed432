import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';

const ROOT = join(__dirname, '..');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await request(url);
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

/** `npm start` exactly as a newcomer runs it, on the embedded default in a scratch data directory. */
describe('npm start', () => {
  const data = mkdtempSync(join(tmpdir(), 'psb-start-'));
  afterAll(() => rmSync(data, { recursive: true, force: true }));

  it('builds what changed, prints how to try it, and stops with the broker when npm is sent SIGTERM', async () => {
    const port = await freePort();
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: 'off',
        HYP_SANDBOX_PORT: '0',
        PGLITE_DATA_DIR: join(data, 'pglite'),
        SECRETS_FILE: join(data, 'dev-secrets.json'),
        BOOTSTRAP_TOKEN_FILE: join(data, 'bootstrap-token'),
        OPERATOR_LOCAL_KEY_FILE: join(data, 'operator-key.pem'),
      },
    });
    let output = '';
    npm.stdout.on('data', (d: Buffer) => (output += d.toString()));
    npm.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => npm.once('exit', (code) => r(code)));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 240_000;
    while (!(await answers(`${base}/health/ready`))) {
      if (npm.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not come up: ${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(output).toMatch(/building/);
    expect(output).toContain(`listening on ${base}`);
    expect(output).toContain('npm run demo');

    // What a newcomer does: kill the npm process. The broker must go with it and free the port.
    npm.kill('SIGTERM');
    await exited;
    const gone = Date.now() + 15_000;
    while (await answers(`${base}/health/live`).catch(() => false)) {
      if (Date.now() > gone) throw new Error('the broker is still answering after npm start was killed');
      await new Promise((r) => setTimeout(r, 200));
    }
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => resolve());
    });
    probe.close();
  }, 300_000);
});
