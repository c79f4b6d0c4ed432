import { z } from 'zod';

export const TERMINAL_NUMBER = /^\d{10}$/;

/**
 * Body of POST /v1/sessions. Unknown fields are refused. `scope` is a JSON object whose shape
 * depends on the terminal's provider: the issuer validates it with that provider's schema once it
 * knows the terminal (Hyp: command/validation/transactionType; Payroc: libVersion/scenario;
 * embedded components: gateway or merchant-central; wallet: walletId).
 */
export const sessionRequestSchema = z.strictObject({
  terminalNumber: z.string().regex(TERMINAL_NUMBER, 'must be exactly 10 digits').optional(),
  scope: z.record(z.string().max(64), z.unknown()).optional(),
});

export type SessionRequest = z.infer<typeof sessionRequestSchema>;
