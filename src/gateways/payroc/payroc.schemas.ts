import { z } from 'zod';

/** Hosted Fields library versions as Payroc publishes them: 1.6.0.172441, 1.2.0-beta.135020. */
const LIB_VERSION = /^\d{1,4}\.\d{1,4}\.\d{1,4}(?:[.-][0-9A-Za-z][0-9A-Za-z.-]{0,40})?$/;
export const libVersionSchema = z.string().regex(LIB_VERSION, 'must be a Hosted Fields library version such as 1.6.0.172441');

/** payment: run a sale (and maybe save the card); tokenization: save or update card details only. */
export const PAYROC_SCENARIOS = ['payment', 'tokenization'] as const;

/** What a device asks for: the library version its page loads, and what the page is for. */
export const payrocScopeSchema = z.strictObject({
  libVersion: libVersionSchema,
  scenario: z.enum(PAYROC_SCENARIOS).default('payment'),
});
export type PayrocScope = z.infer<typeof payrocScopeSchema>;

/** policy.providers.payroc: the library versions and scenarios this device may ask for. */
export const payrocPolicySchema = z.strictObject({
  libVersions: z.array(libVersionSchema).min(1).max(50),
  scenarios: z.array(z.enum(PAYROC_SCENARIOS)).min(1).default(['payment']),
});
export type PayrocPolicy = z.infer<typeof payrocPolicySchema>;

/**
 * terminal.provider_config for Payroc. The terminal's endpoint_url is the API base
 * (https://api.payroc.com/v1, test: https://api.uat.payroc.com/v1); the API key is in the secret store.
 */
export const payrocConfigSchema = z.strictObject({
  /** Payroc's processing terminal id (4-50 characters), a path segment of the session endpoint. */
  processingTerminalId: z.string().regex(/^[A-Za-z0-9_-]{4,50}$/, 'must be 4-50 letters, digits, "-" or "_"'),
  /** The Identity Service: https://identity.payroc.com/authorize (test: https://identity.uat.payroc.com/authorize). */
  identityUrl: z.url({ protocol: /^https?$/ }),
});
export type PayrocConfig = z.infer<typeof payrocConfigSchema>;

/** Identity Service answer (docs.payroc.com/api/authentication). */
export const identityResponseSchema = z.object({
  access_token: z.string().min(1).max(16_384),
  expires_in: z.number().int().positive().max(31_536_000),
  token_type: z.string().optional(),
  scope: z.string().optional(),
});

/** Create Hosted Fields session answer (docs.payroc.com/api/schema/payments/hosted-fields/create). */
export const hostedFieldsSessionSchema = z.object({
  processingTerminalId: z.string().optional(),
  token: z.string().min(1).max(4_096),
  expiresAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date-time'),
});
