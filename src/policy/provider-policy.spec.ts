import { ValidationError } from '../common/errors';
import { PROVIDERS } from '../gateways/providers';
import { scopePolicySchema } from './scope-policy';
import { checkProviderConfig, PROVIDER_DEFINITIONS } from '../terminals/provider-config';

describe('device policy with provider parts', () => {
  it('keeps the Hyp-only shape valid and unchanged', () => {
    const legacy = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm' }] };
    expect(scopePolicySchema.parse(legacy)).toEqual(legacy);
  });

  it('validates each provider part with that provider’s schema', () => {
    const policy = scopePolicySchema.parse({
      providers: { payroc: { libVersions: ['1.6.0.172441'] }, 'embedded-components': { gateway: true }, wallet: { walletIds: ['2sdflsd'] } },
    });
    expect(policy.providers).toEqual({
      payroc: { libVersions: ['1.6.0.172441'], scenarios: ['payment'] },
      'embedded-components': { gateway: true, 'merchant-central': false },
      wallet: { walletIds: ['2sdflsd'] },
    });
  });

  it.each([
    ['an unknown provider', { acme: {} }],
    ['a Hyp part under providers (Hyp stays top level)', { hyp: {} }],
    ['a malformed library version', { payroc: { libVersions: ['latest'] } }],
    ['an empty wallet list', { wallet: { walletIds: [] } }],
    ['an unknown field', { wallet: { walletIds: ['a'], all: true } }],
  ])('refuses %s', (_n, providers) => {
    expect(scopePolicySchema.safeParse({ providers }).success).toBe(false);
  });

  it('denies a provider the device has no part for', () => {
    for (const spec of PROVIDERS.filter((p) => p.policySchema)) {
      expect(spec.permits(undefined, spec.scopeSchema.safeParse({ libVersion: '1.6.0.172441', walletId: 'a', gateway: true }).data)).toBe(false);
    }
  });
});

describe("checkProviderConfig against the providers' definitions", () => {
  it.each([
    ['hyp', undefined],
    ['payroc', { processingTerminalId: '1234001', identityUrl: 'https://identity.payroc.com/authorize' }],
    ['embedded-components', { apis: ['merchant-central'] }],
    ['wallet', { parentSystemId: 'BL13GT', walletIds: ['2sdflsd'] }],
  ])('accepts a valid %s configuration', (provider, config) => {
    expect(() => checkProviderConfig(PROVIDER_DEFINITIONS, provider, config)).not.toThrow();
  });

  it.each([
    ['hyp', { anything: 1 }],
    ['payroc', { processingTerminalId: '12/../x', identityUrl: 'https://identity.payroc.com/authorize' }],
    ['payroc', { processingTerminalId: '1234001', identityUrl: 'ftp://identity' }],
    ['payroc', { processingTerminalId: '1234001', identityUrl: 'https://identity.payroc.com/authorize', apiKey: 'secret' }],
    ['embedded-components', { apis: [] }],
    ['wallet', { parentSystemId: 'BL13GT', walletIds: ['a&b'] }],
    ['acme', {}],
  ])('refuses %s %j, naming the field', (provider, config) => {
    let error: unknown;
    try {
      checkProviderConfig(PROVIDER_DEFINITIONS, provider, config);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    // A secret put there by mistake is never echoed back.
    expect((error as ValidationError).detail).not.toContain('"secret"');
  });
});
