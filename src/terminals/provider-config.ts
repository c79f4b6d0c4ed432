import { z } from 'zod';
import { ValidationError } from '../common/errors';
import { validationErrorOf } from '../common/zod-issues';
import { PROVIDERS } from '../gateways/providers';

/**
 * Field names that stand for a secret. provider_config is shown to auditors, returned by the admin
 * API and recorded in the audit trail, so a secret must never be stored there: secrets stay in the
 * secret store, named by the terminal's credentialRef. Matched anywhere in the name, any case.
 */
const SECRET_LOOKING = /pass(word|wd|phrase)|secret|api[-_]?key|token|private[-_]?key|signing[-_]?key|credential|bearer/i;

/** Metadata with which a provider's configSchema declares a field to be a secret-store reference. */
export const SECRET_REFERENCE_META = { secretReference: true } as const;

/** For a provider's configSchema: this field holds a path in the secret store, never the secret. */
export function secretReference<T extends z.ZodType>(schema: T): T {
  return schema.meta(SECRET_REFERENCE_META);
}

/** Where a provider's configuration schema is found: the gateway registry, or the definitions themselves. */
export interface ProviderSchemas {
  get(name: string): { readonly spec: { readonly configSchema: unknown } } | undefined;
  readonly names: readonly string[];
}

/** The providers' definitions (src/gateways/providers.ts), for callers without the registry (seeding). */
export const PROVIDER_DEFINITIONS: ProviderSchemas = {
  get: (name) => {
    const spec = PROVIDERS.find((p) => p.name === name);
    return spec && { spec };
  },
  names: PROVIDERS.map((p) => p.name),
};

/**
 * A terminal's provider_config as its provider requires it, for the admin API, the CLI and seeding: keys
 * that look like secrets are refused first (naming the key, never echoing the value), then the
 * provider's own configSchema (through GatewayRegistry) decides, with each bad field named as
 * `providerConfig.<path>`. Returns what the schema made of it, which is what gets stored.
 */
export function checkProviderConfig(gateways: ProviderSchemas, provider: string, config: unknown): Record<string, unknown> {
  const registered = gateways.get(provider);
  if (!registered) {
    throw new ValidationError(`Unknown gateway provider "${provider}" (known: ${gateways.names.join(', ')}).`, [
      { path: 'provider', message: 'unknown gateway provider' },
    ]);
  }
  const schema = registered.spec.configSchema as z.ZodType;
  const secrets = secretLookingKeys(config, [], referencePaths(schema));
  if (secrets.length > 0) {
    const errors = secrets.map((path) => ({
      path: ['providerConfig', ...path].join('.'),
      message: 'looks like a secret: secrets stay in the secret store, named by credentialRef',
    }));
    throw new ValidationError(`providerConfig must not hold secrets: ${errors.map((e) => e.path).join(', ')}.`, errors);
  }
  const parsed = schema.safeParse(config ?? {});
  if (!parsed.success) {
    // zod's messages name expectations and keys, never the values given.
    throw validationErrorOf(parsed.error, `The ${provider} terminal configuration is invalid`, ['providerConfig']);
  }
  if (typeof parsed.data !== 'object' || parsed.data === null || Array.isArray(parsed.data)) {
    throw new ValidationError(`The ${provider} terminal configuration must be an object.`, [{ path: 'providerConfig', message: 'must be an object' }]);
  }
  return parsed.data as Record<string, unknown>;
}

/** Paths (array positions left out) of secret-looking keys in `value`, but for declared references. */
function secretLookingKeys(value: unknown, path: string[], references: ReadonlySet<string>): string[][] {
  if (Array.isArray(value)) return value.flatMap((item, i) => secretLookingKeys(item, [...path, String(i)], references));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => {
    const at = [...path, key];
    const declared = references.has(at.filter((p) => !/^\d+$/.test(p)).join('.'));
    return [...(SECRET_LOOKING.test(key) && !declared ? [at] : []), ...secretLookingKeys(inner, at, references)];
  });
}

/** The fields `schema` declares with secretReference(), as dotted paths. */
function referencePaths(schema: z.ZodType): Set<string> {
  const found = new Set<string>();
  const visit = (s: z.ZodType | undefined, path: string[], depth: number): void => {
    if (!s || depth > 16) return;
    if (path.length > 0 && z.globalRegistry.get(s)?.secretReference === true) found.add(path.join('.'));
    const def = (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (s instanceof z.ZodObject) {
      for (const [key, inner] of Object.entries(s.shape)) visit(inner as z.ZodType, [...path, key], depth + 1);
      return;
    }
    // Wrappers (optional, nullable, default, pipe/preprocess, array): look inside.
    for (const inner of [def.innerType, def.in, def.out, def.element]) visit(inner as z.ZodType | undefined, path, depth + 1);
  };
  visit(schema, [], 0);
  return found;
}
