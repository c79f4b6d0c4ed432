import { z } from 'zod';

/**
 * Wallet ids go into the signed query string: a conservative alphabet keeps the bytes signed
 * exactly the bytes sent (no percent-encoding differences between us and the wallet).
 */
export const walletIdSchema = z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'must be 1-128 letters, digits or . _ ~ -');

/** What a device asks for: a session on this wallet. */
export const walletScopeSchema = z
  .strictObject({ walletId: walletIdSchema })
  .optional()
  .superRefine((scope, ctx) => {
    if (scope === undefined) ctx.addIssue({ code: 'custom', message: 'is required: {"walletId": "<wallet id>"}' });
  });
export type WalletScope = { readonly walletId: string };

/** policy.providers.wallet: the wallets this device may open sessions on. */
export const walletPolicySchema = z.strictObject({
  walletIds: z.array(walletIdSchema).min(1).max(100),
});
export type WalletPolicy = z.infer<typeof walletPolicySchema>;

/**
 * terminal.provider_config: the operator system's id for us (x-parent-system-id) and the wallets
 * the terminal serves. endpoint_url is the wallet API base (…/sessions is appended); the bearer
 * auth token and the signing key are in the secret store (`authToken`, `signingKey`).
 */
export const walletConfigSchema = z.strictObject({
  parentSystemId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits or . _ -'),
  walletIds: z.array(walletIdSchema).min(1).max(1_000),
});
export type WalletConfig = z.infer<typeof walletConfigSchema>;

/** Sessions answer (docs.gpas.live/integration/sessions). */
export const walletSessionSchema = z.object({
  id: z.string().regex(/^[\x21-\x7e]{1,256}$/),
  walletId: z.string(),
  created: z.string().optional(),
  status: z.string(),
});

/** Error answer (docs.gpas.live/appendices/error-response). */
export const walletErrorSchema = z.object({ code: z.number().int(), type: z.string().optional(), message: z.string().optional() });

export const WALLET_ERRORS = {
  SYSTEM_ERROR: 1001,
  INVALID_WALLET_SESSION: 1004,
  INVALID_WALLET_ID: 1005,
  SIGNATURE_FAILED: 1006,
  USER_BLOCKED: 1008,
  CUSTOM: 1010,
} as const;
