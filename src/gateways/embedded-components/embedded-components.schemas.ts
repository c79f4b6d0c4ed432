import { z } from 'zod';

/** The two Reporting API accounts a session can be for; the request names exactly one. */
export const REPORTING_APIS = ['gateway', 'merchant-central'] as const;
export type ReportingApi = (typeof REPORTING_APIS)[number];

/**
 * What a device asks for, in the seed's own words: `{"gateway": true}` or
 * `{"merchant-central": true}`. Both or neither is refused here, before any outbound call (the
 * Reporting API itself answers a validation error for both).
 */
export const embeddedScopeSchema = z
  .strictObject({
    gateway: z.literal(true).optional(),
    'merchant-central': z.literal(true).optional(),
  })
  .optional()
  .superRefine((scope, ctx) => {
    const named = REPORTING_APIS.filter((api) => scope?.[api] === true);
    if (named.length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'must name exactly one of "gateway" or "merchant-central" (e.g. {"gateway": true})' });
    }
  });
export type EmbeddedScope = { readonly gateway?: true; readonly 'merchant-central'?: true };

export function reportingApiOf(scope: EmbeddedScope): ReportingApi {
  return scope.gateway === true ? 'gateway' : 'merchant-central';
}

/** policy.providers["embedded-components"]: which accounts' components this device may show. */
export const embeddedPolicySchema = z.strictObject({
  gateway: z.boolean().default(false),
  'merchant-central': z.boolean().default(false),
});
export type EmbeddedPolicy = z.infer<typeof embeddedPolicySchema>;

/**
 * terminal.provider_config: the accounts whose secret API keys the terminal's credential entry
 * holds (`gatewayApiKey`, `merchantCentralApiKey`). endpoint_url is the session-creation URL.
 */
export const embeddedConfigSchema = z.strictObject({
  apis: z.array(z.enum(REPORTING_APIS)).min(1).max(2),
});
export type EmbeddedConfig = z.infer<typeof embeddedConfigSchema>;

/** The secret-store field holding each account's API key. */
export const API_KEY_FIELD: Record<ReportingApi, string> = {
  gateway: 'gatewayApiKey',
  'merchant-central': 'merchantCentralApiKey',
};

/** Reporting API answer: session_token (seed); its lifetime where the answer states one. */
export const componentSessionSchema = z.object({
  session_token: z.string().min(1).max(4_096),
  expires_in: z.number().int().positive().max(86_400).optional(),
  expires_at: z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)))
    .optional(),
});

/** "Session tokens automatically expire after a predefined duration (15 minutes by default)." */
export const DEFAULT_SESSION_SECONDS = 900;
