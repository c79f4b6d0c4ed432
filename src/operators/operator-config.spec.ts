import { validateConfig } from '../config/config.schema';

const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgresql://db/broker',
  HYP_DEFAULT_ENDPOINT: 'https://gw.example/xpo/Relay',
  SECRETS_FILE: '/run/secrets/broker.json',
};

function problems(env: Record<string, string>): string {
  try {
    validateConfig(env);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('operator authentication settings', () => {
  it('has defaults: roles claim, asymmetric algorithms, an audience of its own', () => {
    const c = validateConfig({});
    expect(c).toMatchObject({
      OPERATOR_JWT_ROLES_CLAIM: 'roles',
      OPERATOR_JWT_ALGORITHMS: ['RS256', 'ES256'],
      OPERATOR_JWT_AUDIENCE: 'pos-session-broker-operators',
    });
    expect(c.OPERATOR_JWT_AUDIENCE).not.toBe(c.DEVICE_JWT_AUDIENCE);
  });

  it('refuses the devices audience for operators, and more than one key source', () => {
    expect(problems({ OPERATOR_JWT_AUDIENCE: 'pos-session-broker' })).toMatch(/OPERATOR_JWT_AUDIENCE: must differ from DEVICE_JWT_AUDIENCE/);
    expect(problems({ OPERATOR_JWKS_URI: 'https://idp.example/jwks', OPERATOR_JWT_PUBLIC_KEY_FILE: '/etc/idp.pem' })).toMatch(/set only one of/);
  });

  it('refuses symmetric and unknown algorithms', () => {
    expect(problems({ OPERATOR_JWT_ALGORITHMS: 'HS256' })).toMatch(/OPERATOR_JWT_ALGORITHMS/);
    expect(problems({ OPERATOR_JWT_ALGORITHMS: 'RS256,none' })).toMatch(/OPERATOR_JWT_ALGORITHMS/);
    expect(problems({ OPERATOR_JWT_ALGORITHMS: ' , ' })).toMatch(/OPERATOR_JWT_ALGORITHMS/);
    expect(validateConfig({ OPERATOR_JWT_ALGORITHMS: 'PS256, ES384' }).OPERATOR_JWT_ALGORITHMS).toEqual(['PS256', 'ES384']);
  });

  it('in production, needs an issuer and refuses the embedded local key and its issuer', () => {
    expect(problems({ ...production, OPERATOR_JWKS_URI: 'https://idp.example/jwks' })).toMatch(/OPERATOR_JWT_ISSUER: is required in production/);
    expect(problems({ ...production, OPERATOR_JWKS_URI: 'https://idp.example/jwks', OPERATOR_JWT_ISSUER: 'pos-session-broker-local' })).toMatch(
      /OPERATOR_JWT_ISSUER: is the embedded development issuer/,
    );
    expect(problems({ ...production, OPERATOR_JWT_ISSUER: 'https://idp.example', OPERATOR_JWT_PUBLIC_KEY_FILE: 'data/../data/operator-key.pem' })).toMatch(
      /OPERATOR_JWT_PUBLIC_KEY_FILE: points at the generated development operator key/,
    );
    // Other production requirements may still be missing here; none about operators.
    expect(problems({ ...production, OPERATOR_JWKS_URI: 'https://idp.example/jwks', OPERATOR_JWT_ISSUER: 'https://idp.example' })).not.toMatch(/OPERATOR_/);
  });

  it('in production, fetches the identity provider keys over https only, and throttles refetches', () => {
    const idp = { ...production, OPERATOR_JWT_ISSUER: 'https://idp.example' };
    expect(problems({ ...idp, OPERATOR_JWKS_URI: 'http://idp.example/jwks' })).toMatch(/OPERATOR_JWKS_URI: must be https:\/\/ in production/);
    expect(problems({ ...idp, OPERATOR_JWKS_URI: 'http://127.0.0.1:9000/jwks' })).toMatch(/OPERATOR_JWKS_URI: must be https:\/\/ in production/);
    expect(problems({ ...idp, OPERATOR_JWKS_URI: 'https://idp.example/jwks', OPERATOR_JWKS_REFETCH_INTERVAL_MS: '0' })).toMatch(
      /OPERATOR_JWKS_REFETCH_INTERVAL_MS/,
    );
    // Development and tests may use a local identity provider double over http.
    expect(problems({ OPERATOR_JWKS_URI: 'http://127.0.0.1:9000/jwks' })).toBe('');
  });
});
