import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SETUP = join(__dirname, '..', 'docker', 'vault', 'setup.sh');

/**
 * docker/vault/setup.sh against a recording stand-in for the `vault` CLI (there is no Vault binary
 * here): which commands it runs, in which order, what it writes, that it is re-runnable, and that
 * no secret ever travels in a command line.
 */
describe('docker/vault/setup.sh', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psb-vault-setup-'));
  const bin = join(dir, 'bin');
  const calls = join(dir, 'calls.log');
  const stdinLog = join(dir, 'stdin.log');
  const state = join(dir, 'state');

  beforeAll(() => {
    spawnSync('mkdir', ['-p', bin, state]);
    // Answers like the CLI for what setup.sh asks; remembers enabled mounts and written keys in files.
    writeFileSync(
      join(bin, 'vault'),
      `#!/bin/sh
printf '%s\\n' "$*" >> "${calls}"
case "$*" in
  "secrets list -format=json") [ -f "${state}/kv" ] && printf '{"%s/":{"type":"kv"}}\n' "$(cat "${state}/kv")" || echo '{"sys/":{}}' ;;
  "secrets enable"*) printf '%s' "\${3#-path=}" > "${state}/kv" ;;
  "auth list -format=json") printf '{"token/":{}%s%s}\\n' "$([ -f "${state}/approle" ] && echo ',"approle/":{}')" "$([ -f "${state}/k8s" ] && echo ',"kubernetes/":{}')" ;;
  "auth enable approle") touch "${state}/approle" ;;
  "auth enable kubernetes") touch "${state}/k8s" ;;
  "policy write"*) cat > "${state}/policy.hcl" ;;
  "kv get"*) [ -f "${state}/audit-key" ] || exit 2 ;;
  "kv put"*audit-fingerprint-key*) cat > "${state}/audit-key"; printf 'audit-key:%s\\n' "$(cat "${state}/audit-key")" >> "${stdinLog}" ;;
  "kv put"*merchants*) printf 'merchant:%s\\n' "$(cat)" >> "${stdinLog}" ;;
  "read -field=role_id"*) printf 'role-id-1234' ;;
  "write -f -field=secret_id"*) printf 'secret-id-5678' ;;
  "write"*) ;;
  *) echo "unexpected: $*" >&2; exit 1 ;;
esac
`,
    );
    chmodSync(join(bin, 'vault'), 0o755);
    writeFileSync(join(dir, 'merchant-pw'), 'merchant-password-9\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function run(env: Record<string, string>) {
    const res = spawnSync('sh', [SETUP], {
      cwd: dir,
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, VAULT_ADDR: 'https://vault.test:8200', VAULT_TOKEN: 'admin', ...env },
      encoding: 'utf8',
    });
    return { code: res.status, out: res.stdout, err: res.stderr };
  }

  it('sets up KV v2, the policy for the mount, the audit key once, AppRole and Kubernetes auth', () => {
    const first = run({
      KV_MOUNT: 'kv-pos',
      K8S_HOST: 'https://kubernetes.default.svc',
      K8S_AUDIENCE: 'vault',
      ROLE_ID_FILE: join(dir, 'role-id'),
      MERCHANT_TERMINAL: '0882819014',
      MERCHANT_USERNAME: 'merchant-a',
      MERCHANT_PASSWORD_FILE: join(dir, 'merchant-pw'),
    });
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    const log = readFileSync(calls, 'utf8');
    expect(log).toContain('secrets enable -path=kv-pos -version=2 kv');
    expect(log).toContain('policy write pos-session-broker -');
    expect(log).toMatch(/write auth\/approle\/role\/pos-session-broker token_policies=pos-session-broker token_ttl=1h token_max_ttl=24h/);
    expect(log).toContain('write auth/kubernetes/config kubernetes_host=https://kubernetes.default.svc');
    expect(log).toMatch(
      /write auth\/kubernetes\/role\/pos-session-broker bound_service_account_names=pos-session-broker bound_service_account_namespaces=pos-session-broker audience=vault token_policies=pos-session-broker/,
    );

    const policy = readFileSync(join(state, 'policy.hcl'), 'utf8');
    expect(policy).toContain('path "kv-pos/data/merchants/*"');
    expect(policy).toContain('path "kv-pos/data/broker/audit-fingerprint-key"');
    expect(policy).not.toContain('"secret/data/');

    const key = readFileSync(join(state, 'audit-key'), 'utf8');
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    expect(readFileSync(join(dir, 'pos-session-broker.secret-id'), 'utf8')).toBe('secret-id-5678');
    expect(statSync(join(dir, 'pos-session-broker.secret-id')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'role-id'), 'utf8')).toBe('role-id-1234');
    expect(readFileSync(stdinLog, 'utf8')).toContain('merchant:merchant-password-9');

    // Secrets travel through stdin and files, never in a command line (visible in `ps`) or the output.
    for (const secret of [key, 'secret-id-5678', 'merchant-password-9']) {
      expect(log).not.toContain(secret);
      expect(first.out).not.toContain(secret);
    }
    expect(first.out).toContain('VAULT_APPROLE_ROLE_ID=role-id-1234');
  });

  it('is re-runnable: keeps the audit key and the issued secret_id, enables nothing twice', () => {
    const key = readFileSync(join(state, 'audit-key'), 'utf8');
    writeFileSync(calls, '');
    const again = run({ KV_MOUNT: 'kv-pos' });
    expect(again.code).toBe(0);
    const log = readFileSync(calls, 'utf8');
    expect(log).not.toContain('secrets enable');
    expect(log).not.toContain('auth enable');
    expect(log).not.toContain('audit-fingerprint-key key=-');
    expect(log).not.toContain('secret-id');
    expect(log).not.toContain('kubernetes'); // K8S_HOST not set this time
    expect(readFileSync(join(state, 'audit-key'), 'utf8')).toBe(key);
    expect(again.out).toContain('exists: no new secret_id issued');
  });

  it('refuses to run without VAULT_ADDR', () => {
    const res = spawnSync('sh', [SETUP], { cwd: dir, env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, encoding: 'utf8' });
    expect(res.status).not.toBe(0);
    expect(res.stderr).toContain('VAULT_ADDR');
    expect(existsSync(SETUP)).toBe(true);
  });
});
