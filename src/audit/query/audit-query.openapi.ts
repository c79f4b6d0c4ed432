import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { nullableString } from '../../http/openapi';

/**
 * Response bodies of the auditor API, for the OpenAPI document. The routes declare them with
 * nestjs-zod's ZodResponse, which fails the build if what a route returns drifts from its schema.
 */
export const auditEventViewSchema = z
  .object({
    id: z.string().describe('Event id (a bigint, as a string)'),
    occurredAt: z.string(),
    action: z.string().describe('e.g. session.issued, auth.refused'),
    outcome: z.string().describe('pending, issued, denied, failed or success'),
    reason: nullableString(),
    actorType: z.string(),
    actorId: nullableString(),
    terminalNumber: nullableString(),
    scope: z.unknown().describe('The scope as the device asked for it (JSON), or null'),
    requestId: z.string(),
    clientIp: nullableString(),
    userAgent: nullableString(),
    gatewayResult: nullableString(),
    gatewayTranId: nullableString(),
    latencyMs: z.number().nullable().meta({ type: 'number' }),
    sessionFingerprint: nullableString().describe('Keyed fingerprint of the sessionId; never the sessionId'),
    details: z.unknown().describe('Action-specific JSON, or null'),
  })
  .meta({ id: 'AuditEvent' });

export const eventPageSchema = z.object({
  events: z.array(auditEventViewSchema).describe('Newest first'),
  nextCursor: nullableString().describe('Pass back as `cursor` for the next (older) page, with the same filters; null on the last page'),
  limit: z.number().int(),
});

export const statsReportSchema = z.object({
  bucket: z.enum(['hour', 'day']),
  groupBy: z.enum(['overall', 'terminal']),
  from: z.string(),
  to: z.string(),
  buckets: z.array(
    z.object({
      start: z.string().describe('Start of the UTC hour or day'),
      terminalNumber: nullableString().optional().describe('With groupBy=terminal'),
      outcome: z.string(),
      gatewayResult: nullableString(),
      count: z.number().int(),
    }),
  ),
});

export const sessionLookupResultSchema = z.object({
  sessionFingerprint: z.string(),
  issuance: auditEventViewSchema.nullable().describe('The session.issued event of that sessionId'),
  events: z.array(auditEventViewSchema).describe('Every event of the request(s) that issued it, oldest first'),
});

export const signingKeySetSchema = z.object({
  keys: z.array(
    z.object({
      kty: z.enum(['OKP', 'EC']),
      crv: z.enum(['Ed25519', 'P-256']),
      x: z.string(),
      y: z.string().optional(),
      kid: z.string().describe('RFC 7638 thumbprint'),
      alg: z.enum(['EdDSA', 'ES256']),
      use: z.literal('sig'),
      validFrom: z.string(),
      validTo: nullableString().describe('null while it is the current key'),
    }),
  ),
});

export const verifyReportSchema = z.object({
  ok: z.boolean(),
  from: nullableString(),
  to: nullableString(),
  sealsChecked: z.number().int(),
  eventsChecked: z.number().int(),
  firstSealSeq: nullableString(),
  lastSealSeq: nullableString(),
  newestSeal: z
    .object({ seq: z.string(), hash: z.string(), lastEventId: z.string(), sealedAt: z.string() })
    .nullable()
    .describe('Record its hash elsewhere to detect a later truncation of the chain’s end'),
  unsealedEvents: z.number().int(),
  anchor: z
    .object({ throughSealSeq: z.string(), throughEventId: z.string(), hash: z.string(), source: z.literal('retention') })
    .optional()
    .describe('Where the checked chain starts when retention removed the seals before it'),
  problem: z
    .object({
      kind: z.enum([
        'missing-seal',
        'broken-link',
        'altered-seal',
        'unsupported-version',
        'unknown-key',
        'bad-signature',
        'unsigned-seal',
        'missing-event',
        'altered-event',
        'unexpected-event',
      ]),
      sealSeq: z.string(),
      eventId: z.string().optional(),
      detail: z.string(),
    })
    .optional()
    .describe('The first missing or altered event or seal'),
});

export class EventPageDto extends createZodDto(eventPageSchema, { codec: true }) {}
export class StatsReportDto extends createZodDto(statsReportSchema, { codec: true }) {}
export class SessionLookupResultDto extends createZodDto(sessionLookupResultSchema, { codec: true }) {}
export class SigningKeySetDto extends createZodDto(signingKeySetSchema, { codec: true }) {}
export class VerifyReportDto extends createZodDto(verifyReportSchema, { codec: true }) {}

/** The downloads: one CSV row, or one JSON object (an AuditEvent, a seal) per line. */
export const CSV_EVENTS = { schema: { type: 'string', description: 'RFC 4180 CSV with a header row; one event per row, columns as AuditEvent' } };
export const NDJSON_EVENTS = { schema: { type: 'string', description: 'One AuditEvent JSON object per line (application/x-ndjson)' } };
export const NDJSON_SEALS = {
  schema: {
    type: 'string',
    description: 'One seal JSON object per line, oldest first: seq, period, event count, events digest, previous hash, kid, signature',
  },
};
