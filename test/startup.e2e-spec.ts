import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildOnce } from './support/broker-process';

const ROOT = join(__dirname, '..');

function start(env: Record<string, string>) {
  const res = spawnSync(process.execPath, [join(ROOT, 'dist/src/main.js')], {
    cwd: '/tmp', // no .env to pick up
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: res.status, stderr: res.stderr };
}

describe('start-up configuration checks (the compiled service, as a process)', () => {
  beforeAll(() => buildOnce(), 90_000);

  it('refuses to start in production on the embedded database, the sandbox gateway or dev secrets, naming each setting', () => {
    const { code, stderr } = start({ NODE_ENV: 'production' });
    expect(code).toBe(78);
    expect(stderr).toContain('Invalid configuration');
    expect(stderr).toContain('DATABASE_URL');
    expect(stderr).toContain('HYP_DEFAULT_ENDPOINT');
    expect(stderr).toMatch(/SECRETS_(FILE|PROVIDER)/);

    const sandbox = start({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/test',
      HYP_DEFAULT_ENDPOINT: 'http://127.0.0.1:8081/xpo/Relay',
      SECRETS_FILE: '/run/secrets/broker.json',
    });
    expect(sandbox.code).toBe(78);
    expect(sandbox.stderr).toMatch(/HYP_DEFAULT_ENDPOINT: must be a real https/);
  });

  it('names a malformed setting and does not start', () => {
    const { code, stderr } = start({ PORT: 'eighty', REQUEST_DEADLINE_MS: '-1' });
    expect(code).toBe(78);
    expect(stderr).toMatch(/PORT/);
    expect(stderr).toMatch(/REQUEST_DEADLINE_MS/);
  });

  it('names PORT, once, when the port is taken', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as AddressInfo).port;
    try {
      const { code, stderr, stdout } = startAsync({ ...PRODUCTION_LIKE, PORT: String(port) });
      const out = await Promise.all([code, stderr, stdout]);
      expect(out[0]).toBe(1);
      expect(out[1]).toContain(`port ${port} on 127.0.0.1 is already in use (PORT=${port})`);
      expect(`${out[1]}${out[2]}`.match(/EADDRINUSE|already in use/g)).toHaveLength(1);
    } finally {
      holder.close();
    }
  });

  it('names VAULT_ADDR and why the secret store cannot be used', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const vaultPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { code, stderr } = startAsync({ ...PRODUCTION_LIKE, VAULT_ADDR: `https://127.0.0.1:${vaultPort}`, VAULT_REQUEST_TIMEOUT_MS: '1000' });
    expect(await code).toBe(1);
    const err = await stderr;
    expect(err).toContain(`VAULT_ADDR=https://127.0.0.1:${vaultPort}`);
    expect(err).toMatch(/Vault cannot be reached/);
    expect(err).toContain('ECONNREFUSED');
    expect(err).not.toContain('vault-token-never-printed');
  });
});

/** Production settings that pass validation, with a Vault that the test points somewhere. */
const PRODUCTION_LIKE: Record<string, string> = {
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  PORT: '0',
  METRICS_PORT: 'off',
  DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test',
  HYP_DEFAULT_ENDPOINT: 'https://hyp.example/xpo/Relay',
  SECRETS_PROVIDER: 'vault',
  VAULT_ADDR: 'https://127.0.0.1:1',
  VAULT_TOKEN: 'vault-token-never-printed',
  OPERATOR_JWKS_URI: 'https://idp.example/.well-known/jwks.json',
  OPERATOR_JWT_ISSUER: 'https://idp.example',
  OPERATOR_JWT_AUDIENCE: 'pos-session-broker-operators',
  DEVICE_JWT_AUDIENCE: 'pos-session-broker',
};

/** The compiled service as a process, without blocking the test's event loop (the port holder must answer). */
function startAsync(env: Record<string, string>) {
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/main.js')], { cwd: '/tmp', env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code: exited, stdout: exited.then(() => out), stderr: exited.then(() => err) };
}
