import { spawnSync } from 'node:child_process';
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
});
