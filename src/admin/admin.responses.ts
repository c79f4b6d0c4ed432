import { z } from 'zod';
import type { DeviceRecord } from '../devices/device.repository';
import { scopePolicySchema } from '../policy/scope-policy';
import type { RotatedKey } from './devices.service';
import type { Page } from './page';
import type { TerminalRecord } from './terminal-admin.repository';

/**
 * Response bodies of the admin API, for the OpenAPI document. The type assertions at the bottom
 * fail the build if a record and its documented schema drift apart.
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
  policy: policy.nullable().describe("null: the default policy of the terminal a session is for"),
  terminalNumbers: z.array(z.string()),
  keys: z
    .array(
      z.object({
        id: z.uuid(),
        alg: z.string(),
        publicJwk: z.record(z.string(), z.unknown()),
        createdAt: z.string(),
        expiresAt: z.string().nullable().describe('Set when rotated out; the key verifies until then'),
      }),
    )
    .describe('Newest first'),
  lastSeenAt: z.string().nullable().describe('Last authenticated request, written in batches (up to DEVICE_LIVENESS_FLUSH_MS behind); null: never seen'),
  lastIp: z.string().nullable().describe('Client address of that request'),
  softwareVersion: z.string().nullable().describe("The last `sv` claim of the device's JWTs (1-64 visible ASCII); null: never reported"),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });
export const terminalPageSchema = pageOf(terminalRecordSchema);
export const devicePageSchema = pageOf(deviceRecordSchema);

export const rotatedKeySchema = z.object({
  keyId: z.uuid(),
  alg: z.string(),
  previousKeysExpireAt: z.string(),
  device: deviceRecordSchema,
});

/** Compile-time only: each record is assignable to its schema's type and back. */
export const documentedShapes = {
  terminal: [(x: TerminalRecord): z.infer<typeof terminalRecordSchema> => x, (x: z.infer<typeof terminalRecordSchema>): TerminalRecord => x],
  device: [(x: DeviceRecord): z.infer<typeof deviceRecordSchema> => x, (x: z.infer<typeof deviceRecordSchema>): DeviceRecord => x],
  page: [(x: Page<DeviceRecord>): z.infer<typeof devicePageSchema> => x, (x: z.infer<typeof devicePageSchema>): Page<DeviceRecord> => x],
  rotated: [(x: RotatedKey): z.infer<typeof rotatedKeySchema> => x, (x: z.infer<typeof rotatedKeySchema>): RotatedKey => x],
};
