import type { AnyProviderDefinition, GatewayProvider } from './gateway-provider';

export interface RegisteredProvider {
  readonly spec: AnyProviderDefinition;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly gateway: GatewayProvider<any, any>;
}

/** Gateway providers by the name stored on terminals (see src/gateways/providers.ts). */
export class GatewayRegistry {
  private readonly providers: ReadonlyMap<string, RegisteredProvider>;

  constructor(providers: readonly RegisteredProvider[]) {
    this.providers = new Map(providers.map((p) => [p.spec.name, p]));
  }

  get(name: string): RegisteredProvider | undefined {
    return this.providers.get(name);
  }

  get names(): string[] {
    return [...this.providers.keys()];
  }
}
