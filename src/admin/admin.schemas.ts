import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { devicePublicKeySchema, enrollDeviceSchema } from '../devices/device-enrollment';
import { PROVIDERS } from '../gateways/providers';
import { scopePolicySchema } from '../policy/scope-policy';
import { TERMINAL_NUMBER } from '../terminals/terminal';

/**
 * Bodies, queries and path parameters of the admin API. Bodies are strict: an unknown field (a
 * `password`, say) is refused, so a credential can never reach the database through here.
 */
const terminalNumber = z.string().regex(TERMINAL_NUMBER, 'must be exactly 10 digits');
const label = z.string().trim().min(1).max(200);
const endpointUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2048);
/** A path in the secret store (`hyp/0882819014`): segments of letters, digits, `_ . -`, no `..`. */
const credentialRef = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/, 'must be a secret store path like hyp/0882819014')
  .describe('Path of the terminal credentials in the secret store; never the credentials themselves');
const provider = z.string().min(1).max(32);
/**
 * Checked here for shape only: the provider's own configSchema decides in TerminalsService, which
 * knows the provider (of the body, or the terminal's when a PATCH does not change it).
 */
const providerConfig = z
  .record(z.string(), z.unknown())
  .describe(
    "The provider's own non-secret terminal settings, checked by that provider's schema (400 naming the field, e.g. " +
      'providerConfig.processingTerminalId). Never a secret: keys that look like one (password, secret, apiKey, token...) are ' +
      'refused; the credentials stay in the secret store at credentialRef. A change of provider needs a valid configuration for ' +
      `the new one. Fields per provider: ${PROVIDERS.map((p) => `${p.name}: ${describeFields(p.configSchema as z.ZodType)}`).join('; ')}.`,
  );
const policy = scopePolicySchema.describe('Allowed scopes: {allowUnscoped, allowed: [{command, validation?, transactionType?}]}');

export const createTerminalSchema = z.strictObject({
  terminalNumber,
  label,
  provider: provider.default('hyp'),
  endpointUrl,
  credentialRef,
  enabled: z.boolean().default(true),
  defaultPolicy: policy.default({ allowUnscoped: false, allowed: [] }),
  providerConfig: providerConfig.optional(),
});
export type CreateTerminal = z.infer<typeof createTerminalSchema>;

export const updateTerminalSchema = z
  .strictObject({ label, provider, endpointUrl, credentialRef, enabled: z.boolean(), defaultPolicy: policy, providerConfig })
  .partial()
  .refine((v) => Object.keys(v).length > 0, 'name at least one field to change');
export type UpdateTerminal = z.infer<typeof updateTerminalSchema>;

const page = {
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
};
const queryBool = z.enum(['true', 'false']).transform((v) => v === 'true');

export const listTerminalsSchema = z.strictObject({
  ...page,
  enabled: queryBool.optional(),
  provider: provider.optional(),
  label: z.string().min(1).max(200).optional().describe('Part of the label, any case'),
});
export type ListTerminals = z.infer<typeof listTerminalsSchema>;

export const deviceStatusSchema = z.enum(['active', 'disabled', 'revoked']);

export const listDevicesSchema = z
  .strictObject({
    limit: page.limit,
    offset: page.offset.describe('Devices to skip (offset paging, kept for existing callers); 0 with `cursor`'),
    cursor: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe('nextCursor of the previous page, with the same filters: keyset paging, stable however many devices are enrolled meanwhile'),
    status: deviceStatusSchema.optional(),
    terminalNumber: terminalNumber.optional(),
    name: z.string().min(1).max(200).optional().describe('Part of the name, any case'),
    notSeenSince: z.iso
      .datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-11-30T08:00:00Z' })
      .transform((v) => new Date(v))
      .optional()
      .describe('Only devices not seen since then (last seen before it, or never); liveness is written every DEVICE_LIVENESS_FLUSH_MS'),
  })
  .refine((q) => q.cursor === undefined || q.offset === 0, { message: 'a cursor page starts where the cursor says: leave offset out', path: ['offset'] });
export type ListDevices = z.infer<typeof listDevicesSchema>;

export const updateDeviceSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    /** null: the device takes the default policy of the terminal each session is for. */
    policy: policy.nullable(),
    terminalNumbers: z.array(terminalNumber).min(1).max(100),
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, 'name at least one field to change');
export type UpdateDevice = z.infer<typeof updateDeviceSchema>;

export const rotateKeySchema = z.strictObject({
  publicKey: devicePublicKeySchema(),
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(2_592_000)
    .optional()
    .describe('How long the previous keys keep verifying; 0 cuts them off at once (compromised key). Default DEVICE_KEY_ROTATION_GRACE_SECONDS'),
});
export type RotateKey = z.infer<typeof rotateKeySchema>;

export const terminalNumberParam = terminalNumber.describe('10 digits');
export const deviceIdParam = z.uuid({ message: 'must be a device id (UUID)' });

/*
 * The DTOs the routes declare: nestjs-zod's pipe validates with their schema (a failure is the
 * 400 problem+json, problem-details.ts) and the OpenAPI document is generated from the same schema.
 */
export class EnrollDeviceBody extends createZodDto(enrollDeviceSchema) {}
export class CreateTerminalBody extends createZodDto(createTerminalSchema) {}
export class UpdateTerminalBody extends createZodDto(updateTerminalSchema) {}
export class ListTerminalsQuery extends createZodDto(listTerminalsSchema) {}
export class ListDevicesQuery extends createZodDto(listDevicesSchema) {}
export class UpdateDeviceBody extends createZodDto(updateDeviceSchema) {}
export class RotateKeyBody extends createZodDto(rotateKeySchema) {}
export class TerminalNumberParams extends createZodDto(z.object({ terminalNumber: terminalNumberParam })) {}
export class DeviceIdParams extends createZodDto(z.object({ deviceId: deviceIdParam })) {}

/** `{a, b?}` from a provider's configSchema, for the OpenAPI description; `{}` when it has none. */
function describeFields(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown>; required?: string[] };
  const names = Object.keys(json.properties ?? {}).map((n) => (json.required?.includes(n) ? n : `${n}?`));
  return `{${names.join(', ')}}`;
}
