import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { PROVIDERS } from '../gateways/providers';
import { TERMINAL_NUMBER } from '../terminals/terminal';

/**
 * How deep the whole body may nest (the body itself is level 1). Every provider's scope is flat
 * or nearly so; a deeper body is hostile, and would overflow the stack of anything recursive
 * downstream (the Idempotency-Key's canonical hash, the scope schemas, the audit's JSON).
 */
export const MAX_BODY_DEPTH = 8;

/**
 * Body of POST /v1/sessions. Unknown fields are refused. `scope` is a JSON object whose shape
 * depends on the terminal's provider: the issuer validates it with that provider's schema once it
 * knows the terminal (Hyp: command/validation/transactionType; Payroc: libVersion/scenario;
 * embedded components: gateway or merchant-central; wallet: walletId).
 */
export const sessionRequestSchema = z.strictObject({
  terminalNumber: z.string().regex(TERMINAL_NUMBER, 'must be exactly 10 digits').optional(),
  scope: z
    .record(z.string().max(64), z.unknown())
    .superRefine((scope, ctx) => {
      // The scope object sits at level 2 of the body.
      if (nestsDeeperThan(scope, MAX_BODY_DEPTH - 1)) {
        ctx.addIssue({ code: 'custom', message: `must not nest deeper than ${MAX_BODY_DEPTH} levels in the request body` });
      }
    })
    .optional()
    // The OpenAPI document shows what the issuer checks the scope against: one of the providers' own
    // scope schemas (the terminal's), each generated from that zod schema.
    // (propertyNames, from the record's key limit, is not OpenAPI 3.0: left out of the document.)
    .meta({ anyOf: providerScopesJsonSchema(), propertyNames: undefined }),
});

export type SessionRequest = z.infer<typeof sessionRequestSchema>;
/** The body DTO: nestjs-zod validates with sessionRequestSchema and documents it. */
export class SessionRequestBody extends createZodDto(sessionRequestSchema) {}

function providerScopesJsonSchema(): object[] {
  return PROVIDERS.map((p) => {
    const json = z.toJSONSchema(p.scopeSchema as z.ZodType, { io: 'input', target: 'openapi-3.0', unrepresentable: 'any' }) as Record<string, unknown>;
    delete json.$schema;
    return { title: `${p.name} scope`, ...json };
  });
}

/** Whether objects/arrays in `value` (itself level 1) nest deeper than `max`; iterative, so any depth is safe to ask about. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}
