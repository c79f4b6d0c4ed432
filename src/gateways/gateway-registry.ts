import type { GatewayProvider } from './gateway-provider';

/** Gateway providers by the name stored on terminals. Adding a provider is one registration. */
export class GatewayRegistry {
  private readonly providers: ReadonlyMap<string, GatewayProvider>;

  constructor(providers: readonly GatewayProvider[]) {
    this.providers = new Map(providers.map((p) => [p.name, p]));
  }

  get(name: string): GatewayProvider | undefined {
    return this.providers.get(name);
  }

  get names(): string[] {
    return [...this.providers.keys()];
  }
}
