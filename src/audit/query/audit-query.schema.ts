import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

/** Instants as ISO-8601 with a zone (Z or ±hh:mm); normalised to UTC with milliseconds. */
const instant = z.iso
  .datetime({ offset: true, message: 'must be an ISO-8601 date-time with a zone, e.g. 2026-11-23T12:00:00Z' })
  .transform((v) => new Date(v).toISOString());

/** The filters every auditor query shares; each narrows the result (AND). */
export const auditFilterShape = {
  /** occurred_at >= from */
  from: instant.optional().describe('ISO-8601 instant with zone; occurred_at >= from'),
  /** occurred_at < to */
  to: instant.optional().describe('ISO-8601 instant with zone; occurred_at < to'),
  /** Events whose actor is this device (refused tokens count under the device they claimed). */
  deviceId: z.string().min(1).max(128).optional().describe('Events whose actor is this device'),
  terminalNumber: z
    .string()
    .regex(/^\d{10}$/, 'must be 10 digits')
    .optional(),
  action: z
    .string()
    .regex(/^[a-z][a-z0-9._-]{0,63}$/, 'must be an action name such as session.issued')
    .optional()
    .describe('e.g. session.issued, auth.refused'),
  outcome: z.enum(['pending', 'issued', 'denied', 'failed', 'success']).optional(),
  gatewayResult: z
    .string()
    .regex(/^[0-9A-Za-z_-]{1,16}$/, 'must be a gateway result code such as 457')
    .optional(),
  requestId: z.string().min(1).max(64).optional(),
};

export type AuditFilters = z.infer<z.ZodObject<typeof auditFilterShape>>;

const rangeInOrder = (q: { from?: string; to?: string }) => q.from === undefined || q.to === undefined || q.from < q.to;
const rangeMessage = { message: '"from" must be before "to"', path: ['from'] };

export const MAX_PAGE = 500;

export const listQuerySchema = z
  .strictObject({
    ...auditFilterShape,
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50).describe('Events per page, 1-500'),
    cursor: z.string().min(1).max(256).optional().describe('nextCursor of the previous page (same filters)'),
  })
  .refine(rangeInOrder, rangeMessage);
export type ListQuery = z.infer<typeof listQuerySchema>;

export const exportQuerySchema = z.strictObject({ ...auditFilterShape, format: z.enum(['csv', 'ndjson']) }).refine(rangeInOrder, rangeMessage);
export type ExportQuery = z.infer<typeof exportQuerySchema>;

/** Longest span one stats request may cover, per bucket size (keeps each answer bounded). */
export const STATS_MAX_SPAN_MS = { hour: 31 * 86_400_000, day: 366 * 86_400_000 } as const;

export const statsQuerySchema = z
  .strictObject({
    ...auditFilterShape,
    bucket: z.enum(['hour', 'day']).default('hour').describe('UTC hours (at most 31 days) or days (at most 366)'),
    groupBy: z.enum(['overall', 'terminal']).default('overall'),
  })
  .refine(rangeInOrder, rangeMessage);
export type StatsQuery = z.infer<typeof statsQuerySchema>;

export const verifyQuerySchema = z.strictObject({ from: instant.optional(), to: instant.optional() }).refine(rangeInOrder, rangeMessage);
export type VerifyQuery = z.infer<typeof verifyQuerySchema>;

/** Seals whose events' time span meets [from, to), as verify selects them. */
export const sealsQuerySchema = verifyQuerySchema;
export type SealsQuery = VerifyQuery;

/** The sessionId travels in the body only: never in a URL, so never in an access log. */
export const sessionLookupSchema = z.strictObject({ sessionId: z.string().min(1).max(512) });
export type SessionLookup = z.infer<typeof sessionLookupSchema>;

/** The filter part of a query (what a cursor is bound to). */
export function filtersOf(q: AuditFilters): AuditFilters {
  const f: AuditFilters = {};
  for (const key of Object.keys(auditFilterShape) as Array<keyof AuditFilters>) {
    if (q[key] !== undefined) f[key] = q[key] as never;
  }
  return f;
}

/* DTOs: nestjs-zod validates each query and body with its schema and documents it (admin.schemas.ts says more). */
export class ListQueryDto extends createZodDto(listQuerySchema) {}
export class ExportQueryDto extends createZodDto(exportQuerySchema) {}
export class StatsQueryDto extends createZodDto(statsQuerySchema) {}
export class VerifyQueryDto extends createZodDto(verifyQuerySchema) {}
export class SealsQueryDto extends createZodDto(sealsQuerySchema) {}
export class SessionLookupDto extends createZodDto(sessionLookupSchema) {}
