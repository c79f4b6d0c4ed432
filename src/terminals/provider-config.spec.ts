import { z } from 'zod';
import { ValidationError } from '../common/errors';
import { GatewayRegistry } from '../gateways/gateway-registry';
import type { AnyProviderDefinition } from '../gateways/gateway-provider';
import { PROVIDERS } from '../gateways/providers';
import { checkProviderConfig, secretReference } from './provider-config';

/** A provider whose configuration names its API key by reference (a secret-store path). */
const referencing = {
  ...PROVIDERS[0],
  name: 'referencing',
  configSchema: z.strictObject({
    accountId: z.string(),
    apiKeyRef: secretReference(z.string().regex(/^[a-z0-9/_-]+$/)).optional(),
    accounts: z.array(z.strictObject({ tokenRef: secretReference(z.string()) })).optional(),
  }),
} as unknown as AnyProviderDefinition;
const registry = new GatewayRegistry(
  [...PROVIDERS, referencing].map((spec) => ({ spec, gateway: { name: spec.name, createSession: () => Promise.reject(new Error('unused')) } })),
);

function refused(provider: string, config: unknown): Array<{ path: string; message: string }> {
  try {
    checkProviderConfig(registry, provider, config);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return [...(err as ValidationError).errors];
  }
  throw new Error('accepted');
}

describe('checkProviderConfig', () => {
  it("accepts each provider's own fields and returns what its schema made of them", () => {
    expect(checkProviderConfig(registry, 'hyp', undefined)).toEqual({});
    expect(checkProviderConfig(registry, 'embedded-components', { apis: ['gateway'] })).toEqual({ apis: ['gateway'] });
  });

  it('names each secret-looking key, at any depth, without echoing its value', () => {
    const errors = refused('wallet', { parentSystemId: 'P', walletIds: ['w'], signingKey: 'sk-1', nested: [{ Bearer_Token: 'x' }], PassWord: 'y' });
    expect(errors.map((e) => e.path).sort()).toEqual(['providerConfig.PassWord', 'providerConfig.nested.0.Bearer_Token', 'providerConfig.signingKey']);
    expect(JSON.stringify(errors)).not.toMatch(/sk-1|"x"|"y"/);
  });

  it('lets a field through that the provider schema declares as a secret-store reference, and only that one', () => {
    expect(checkProviderConfig(registry, 'referencing', { accountId: 'a', apiKeyRef: 'vault/a', accounts: [{ tokenRef: 'vault/t' }] })).toEqual({
      accountId: 'a',
      apiKeyRef: 'vault/a',
      accounts: [{ tokenRef: 'vault/t' }],
    });
    expect(refused('referencing', { accountId: 'a', apiKey: 'k' }).map((e) => e.path)).toEqual(['providerConfig.apiKey']);
  });

  it('refuses an unknown provider, naming the provider field', () => {
    expect(refused('nope', {}).map((e) => e.path)).toEqual(['provider']);
  });
});
