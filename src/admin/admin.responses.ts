import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { nullableString } from '../http/openapi';
import { scopePolicySchema } from '../policy/scope-policy';

/**
 * Response bodies of the admin API, for the OpenAPI document. The routes declare them with
 * nestjs-zod's ZodResponse, which fails the build if what a route returns drifts from its schema.
 * `codec: true` documents the input side of each schema: a stored policy is the request schema's,
 * whose canonicalizing transforms JSON Schema cannot show as output (and they change no shape).
 */
/** The stored policy, already canonical: it passes the request schema, which documents it best. */
const policy = scopePolicySchema;

export const terminalRecordSchema = z.object({
  id: z.uuid(),
  terminalNumber: z.string(),
  label: z.string(),
  provider: z.string(),
  endpointUrl: z.string(),
  credentialRef: z.string().describe('Path in the secret store; the credentials are never returned'),
  enabled: z.boolean(),
  defaultPolicy: policy.describe('Applies to bound devices that have no policy of their own'),
  providerConfig: z
    .record(z.string(), z.unknown())
    .describe("The provider's own non-secret settings, as its schema stored them ({} for hyp); secrets stay at credentialRef"),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const deviceRecordSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  status: z.enum(['active', 'disabled', 'revoked']),
  policy: policy.nullable().describe('null: the default policy of the terminal a session is for'),
  terminalNumbers: z.array(z.string()),
  keys: z
    .array(
      z.object({
        id: z.uuid(),
        alg: z.string(),
        publicJwk: z.record(z.string(), z.unknown()),
        createdAt: z.string(),
        expiresAt: nullableString().describe('Set when rotated out; the key verifies until then'),
      }),
    )
    .describe('Newest first'),
  lastSeenAt: nullableString().describe('Last authenticated request, written in batches (up to DEVICE_LIVENESS_FLUSH_MS behind); null: never seen'),
  lastIp: nullableString().describe('Client address of that request'),
  softwareVersion: nullableString().describe("The last `sv` claim of the device's JWTs (1-64 visible ASCII); null: never reported"),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });
export const terminalPageSchema = pageOf(terminalRecordSchema);
export const devicePageSchema = pageOf(deviceRecordSchema).extend({
  nextCursor: nullableString().describe('Pass back as `cursor` for the next (older) page, with the same filters; null on the last page'),
});

export const rotatedKeySchema = z.object({
  keyId: z.uuid(),
  alg: z.string(),
  previousKeysExpireAt: z.string(),
  device: deviceRecordSchema,
});

export class TerminalRecordDto extends createZodDto(terminalRecordSchema, { codec: true }) {}
export class TerminalPageDto extends createZodDto(terminalPageSchema, { codec: true }) {}
export class DeviceRecordDto extends createZodDto(deviceRecordSchema, { codec: true }) {}
export class DevicePageDto extends createZodDto(devicePageSchema, { codec: true }) {}
export class RotatedKeyDto extends createZodDto(rotatedKeySchema, { codec: true }) {}
