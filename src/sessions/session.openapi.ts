import { z } from 'zod';
import type { IssuedSession } from './session-issuer';

/** The 201 body of POST /v1/sessions, for the OpenAPI document. */
export const issuedSessionSchema = z.object({
  sessionId: z.string().describe('The gateway session; handed out once, never logged or stored'),
  expiresAt: z.string().nullable().describe('null: open until closed'),
  expiresIn: z.number().int().nullable().describe('Seconds; null: open until closed'),
  reusable: z.boolean(),
  provider: z.string().describe("The terminal's gateway provider"),
  terminalNumber: z.string(),
  scope: z.record(z.string(), z.unknown()).nullable().describe('The scope as validated for the provider'),
  requestId: z.string(),
});

/** Compile-time only: the documented schema and the real response agree both ways. */
export const documentedShapes = [
  (x: IssuedSession): z.infer<typeof issuedSessionSchema> => x,
  (x: z.infer<typeof issuedSessionSchema>): IssuedSession => x,
];
