import { z } from 'zod';
import { hypScopeSchema } from './hyp-scope.schema';

export const TERMINAL_NUMBER = /^\d{10}$/;

/** Body of POST /v1/sessions. Unknown fields are refused. */
export const sessionRequestSchema = z.strictObject({
  terminalNumber: z.string().regex(TERMINAL_NUMBER, 'must be exactly 10 digits').optional(),
  scope: hypScopeSchema.optional(),
});

export type SessionRequest = z.infer<typeof sessionRequestSchema>;
