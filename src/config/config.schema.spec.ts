import { validateConfig } from './config.schema';

/** Production fixtures read credentials from Vault: the file provider is refused there. */
const VAULT = {
  SECRETS_PROVIDER: 'vault',
  VAULT_ADDR: 'https://vault.internal:8200',
  VAULT_AUTH_METHOD: 'approle',
  VAULT_APPROLE_ROLE_ID_FILE: '/run/secrets/vault-role-id',
  VAULT_APPROLE_SECRET_ID_FILE: '/run/secrets/vault-secret-id',
};

describe('configuration', () => {
  it('has working defaults for the embedded mode', () => {
    const c = validateConfig({});
    expect(c).toMatchObject({ NODE_ENV: 'development', PORT: 8080, REQUEST_DEADLINE_MS: 8000 });
    expect(c.DATABASE_URL).toBeUndefined();
  });

  it('names every bad setting', () => {
    expect(() => validateConfig({ PORT: 'eighty', REQUEST_DEADLINE_MS: '5', LOG_LEVEL: 'loud' })).toThrow(
      /PORT[\s\S]*REQUEST_DEADLINE_MS[\s\S]*LOG_LEVEL|PORT[\s\S]*LOG_LEVEL[\s\S]*REQUEST_DEADLINE_MS/,
    );
    expect(() => validateConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL: must be a postgres/);
  });

  it('refuses production without a real database, a real gateway, or with dev secrets', () => {
    let message = '';
    try {
      validateConfig({ NODE_ENV: 'production' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('HYP_DEFAULT_ENDPOINT');
    expect(message).toContain('SECRETS_PROVIDER: must be vault in production');
    expect(() =>
      validateConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgresql://db/broker',
        HYP_DEFAULT_ENDPOINT: 'http://127.0.0.1:8081/xpo/Relay',
        ...VAULT,
      }),
    ).toThrow(/HYP_DEFAULT_ENDPOINT: must be a real https/);
    expect(() =>
      validateConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgresql://db/broker',
        HYP_DEFAULT_ENDPOINT: 'https://gw.example/xpo/Relay',
        ...VAULT,
        BOOTSTRAP_ENROLLMENT: 'true',
      }),
    ).toThrow(/BOOTSTRAP_ENROLLMENT/);
  });

  it('accepts a complete production configuration', () => {
    const c = validateConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://db/broker',
      HYP_DEFAULT_ENDPOINT: 'https://gw.example/xpo/Relay',
      ...VAULT,
    });
    expect(c.NODE_ENV).toBe('production');
  });

  it('checks the Vault settings: address, the credentials of the chosen auth method, https in production', () => {
    const problems = (env: Record<string, string>) => {
      try {
        validateConfig(env);
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(problems({ SECRETS_PROVIDER: 'vault', VAULT_TOKEN: 't' })).toContain('VAULT_ADDR: is required with SECRETS_PROVIDER=vault');
    expect(problems({ SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200' })).toContain('VAULT_TOKEN: VAULT_TOKEN or VAULT_TOKEN_FILE is required');
    expect(problems({ SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_TOKEN: 't', VAULT_TOKEN_FILE: '/f' })).toContain(
      'set only one of VAULT_TOKEN and VAULT_TOKEN_FILE',
    );
    const approle = problems({ SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_AUTH_METHOD: 'approle' });
    expect(approle).toContain('VAULT_APPROLE_ROLE_ID');
    expect(approle).toContain('VAULT_APPROLE_SECRET_ID');
    expect(problems({ SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_AUTH_METHOD: 'kubernetes' })).toContain(
      'VAULT_KUBERNETES_ROLE: is required',
    );
    expect(problems({ SECRETS_PROVIDER: 'vault', VAULT_ADDR: 'ftp://vault', VAULT_TOKEN: 't' })).toContain('VAULT_ADDR');
    expect(problems({ ...VAULT, SECRETS_CACHE_TTL_MS: '60000', VAULT_MAX_STALENESS_MS: '1000' })).toContain(
      'VAULT_MAX_STALENESS_MS: must be at least SECRETS_CACHE_TTL_MS',
    );
    expect(problems({ ...VAULT, VAULT_KV_MOUNT: '../sys' })).toContain('VAULT_KV_MOUNT');

    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgresql://db/broker', HYP_DEFAULT_ENDPOINT: 'https://gw.example/xpo/Relay' };
    expect(problems({ ...production, ...VAULT, VAULT_ADDR: 'http://vault.internal:8200' })).toContain('VAULT_ADDR: must be https://');
    // A Vault Agent on loopback may speak plain http.
    expect(problems({ ...production, ...VAULT, VAULT_ADDR: 'http://127.0.0.1:8100' })).not.toContain('VAULT_ADDR');
    expect(problems({ ...production, SECRETS_FILE: '/run/secrets/broker.json' })).toContain('SECRETS_PROVIDER: must be vault in production');
    const c = validateConfig({ ...production, ...VAULT, VAULT_NAMESPACE: 'payments/' });
    expect(c).toMatchObject({ VAULT_KV_MOUNT: 'secret', VAULT_MAX_STALENESS_MS: 900_000, VAULT_REQUEST_TIMEOUT_MS: 5_000, VAULT_NAMESPACE: 'payments/' });
  });

  it('keeps audit history at least a year in production, and bounds the sealing settings', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgresql://db/broker', HYP_DEFAULT_ENDPOINT: 'https://gw.example/xpo/Relay', ...VAULT };
    expect(() => validateConfig({ ...production, AUDIT_RETENTION_DAYS: '90' })).toThrow(/AUDIT_RETENTION_DAYS: must be 0 \(keep forever\) or at least 365/);
    expect(validateConfig({ ...production, AUDIT_RETENTION_DAYS: '400' }).AUDIT_RETENTION_DAYS).toBe(400);
    expect(validateConfig({ ...production }).AUDIT_RETENTION_DAYS).toBe(0);
    expect(() => validateConfig({ ...production, AUDIT_SEAL_SETTLE_MS: '0' })).toThrow(/AUDIT_SEAL_SETTLE_MS: must be at least 1000/);
    // Development may expire sooner (and tests do).
    expect(validateConfig({ AUDIT_RETENTION_DAYS: '30' }).AUDIT_RETENTION_DAYS).toBe(30);
    expect(() => validateConfig({ AUDIT_SEAL_MAX_EVENTS: '0' })).toThrow(/AUDIT_SEAL_MAX_EVENTS/);
    expect(validateConfig({})).toMatchObject({ AUDIT_SEAL_INTERVAL_MS: 60_000, AUDIT_SEAL_SETTLE_MS: 10_000, AUDIT_SEAL_MAX_EVENTS: 10_000 });
  });
});
