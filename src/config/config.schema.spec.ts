import { validateConfig } from './config.schema';

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
    expect(message).toContain('SECRETS_FILE');
    expect(() =>
      validateConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgresql://db/broker',
        HYP_DEFAULT_ENDPOINT: 'http://127.0.0.1:8081/xpo/Relay',
        SECRETS_FILE: '/run/secrets/broker.json',
      }),
    ).toThrow(/HYP_DEFAULT_ENDPOINT: must be a real https/);
    expect(() =>
      validateConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgresql://db/broker',
        HYP_DEFAULT_ENDPOINT: 'https://gw.example/xpo/Relay',
        SECRETS_FILE: '/run/secrets/broker.json',
        BOOTSTRAP_ENROLLMENT: 'true',
      }),
    ).toThrow(/BOOTSTRAP_ENROLLMENT/);
  });

  it('accepts a complete production configuration', () => {
    const c = validateConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgresql://db/broker',
      HYP_DEFAULT_ENDPOINT: 'https://gw.example/xpo/Relay',
      SECRETS_FILE: '/run/secrets/broker.json',
    });
    expect(c.NODE_ENV).toBe('production');
  });
});
