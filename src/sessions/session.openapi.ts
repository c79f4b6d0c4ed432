import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { nullableInt, nullableString } from '../http/openapi';

/** The 201 body of POST /v1/sessions, for the OpenAPI document. */
export const issuedSessionSchema = z.object({
  sessionId: z.string().describe('The gateway session; handed out once, never logged or stored'),
  expiresAt: nullableString().describe('null: open until closed'),
  expiresIn: nullableInt().describe('Seconds; null: open until closed'),
  reusable: z.boolean(),
  provider: z.string().describe("The terminal's gateway provider"),
  terminalNumber: z.string(),
  scope: z.looseObject({}).nullable().meta({ type: 'object' }).describe('The scope as validated for the provider'),
  requestId: z.string(),
});

/** The route declares it with ZodResponse, which fails the build if IssuedSession drifts from it. */
export class IssuedSessionDto extends createZodDto(issuedSessionSchema, { codec: true }) {}
