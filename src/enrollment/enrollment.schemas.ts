import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { nullableString } from '../http/openapi';
import { devicePublicKeySchema } from '../devices/device-enrollment';
import { scopePolicySchema } from '../policy/scope-policy';
import { TERMINAL_NUMBER } from '../terminals/terminal';

/** Bodies and queries of the enrollment-code admin routes and of the public redemption route. */
const terminalNumber = z.string().regex(TERMINAL_NUMBER, 'must be exactly 10 digits');

export const createEnrollmentCodeSchema = z.strictObject({
  terminalNumbers: z.array(terminalNumber).min(1).max(100),
  /** Absent or null: each device takes the default policy of the terminal each session is for. */
  policy: scopePolicySchema.nullable().default(null),
  name: z.string().trim().min(1).max(200).optional().describe('What the code is for (a store, a batch); the devices are named after it'),
  expiresInSeconds: z.number().int().min(60).max(86_400).default(900),
  maxUses: z.number().int().min(1).max(1_000).default(1).describe('How many devices may enroll with the code'),
});
export type CreateEnrollmentCode = z.infer<typeof createEnrollmentCodeSchema>;

export const enrollmentCodeStatusSchema = z.enum(['pending', 'used', 'expired', 'revoked']);
export type EnrollmentCodeStatus = z.infer<typeof enrollmentCodeStatusSchema>;

export const listEnrollmentCodesSchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  status: enrollmentCodeStatusSchema.optional(),
});
export type ListEnrollmentCodes = z.infer<typeof listEnrollmentCodesSchema>;

export const enrollmentCodeIdParam = z.uuid({ message: 'must be an enrollment code id (UUID)' });

/** POST /v1/enrollments: the code travels in the body, never in a URL (URLs end up in logs). */
export const redeemEnrollmentCodeSchema = z.strictObject({
  code: z.string().min(1).max(64).describe('The enrollment code as typed: case, spaces and dashes do not matter'),
  publicKey: devicePublicKeySchema(),
  name: z.string().trim().min(1).max(200).optional(),
  softwareVersion: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .optional(),
});
export type RedeemEnrollmentCode = z.infer<typeof redeemEnrollmentCodeSchema>;

export const enrollmentCodeRecordSchema = z.object({
  id: z.uuid(),
  name: nullableString(),
  status: enrollmentCodeStatusSchema,
  terminalNumbers: z.array(z.string()),
  policy: scopePolicySchema.nullable(),
  maxUses: z.number().int(),
  uses: z.number().int(),
  expiresAt: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  revokedAt: nullableString(),
});
export type EnrollmentCodeRecord = z.infer<typeof enrollmentCodeRecordSchema>;

export const createdEnrollmentCodeSchema = enrollmentCodeRecordSchema.extend({
  code: z.string().describe('Shown once: only its hash is kept'),
  enrollUrl: z.string().describe('For a QR code: the redemption URL with the code in the fragment, which is never sent to a server'),
});
export type CreatedEnrollmentCode = z.infer<typeof createdEnrollmentCodeSchema>;

export const enrollmentCodePageSchema = z.object({
  items: z.array(enrollmentCodeRecordSchema),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});

export const enrolledDeviceSchema = z.object({
  deviceId: z.uuid(),
  keyId: z.uuid(),
  alg: z.string(),
  terminalNumbers: z.array(z.string()),
  audience: z.string().describe('The `aud` the device puts in its JWTs'),
});

/* DTOs: nestjs-zod validates with their schema and documents it (admin.schemas.ts says more). */
export class CreateEnrollmentCodeBody extends createZodDto(createEnrollmentCodeSchema) {}
export class ListEnrollmentCodesQuery extends createZodDto(listEnrollmentCodesSchema) {}
export class EnrollmentCodeIdParams extends createZodDto(z.object({ codeId: enrollmentCodeIdParam })) {}
/** Documentation only: the service validates the redemption itself, so a malformed attempt is audited. */
export class RedeemEnrollmentCodeBody extends createZodDto(redeemEnrollmentCodeSchema) {}
export class EnrollmentCodeRecordDto extends createZodDto(enrollmentCodeRecordSchema, { codec: true }) {}
export class CreatedEnrollmentCodeDto extends createZodDto(createdEnrollmentCodeSchema, { codec: true }) {}
export class EnrollmentCodePageDto extends createZodDto(enrollmentCodePageSchema, { codec: true }) {}
export class EnrolledDeviceDto extends createZodDto(enrolledDeviceSchema, { codec: true }) {}
