import { Inject, Injectable } from '@nestjs/common';
import type { AuditOrigin } from '../../http/audit-origin';
import { AuditTrail } from '../audit-trail';
import { SessionFingerprinter } from '../session-fingerprint';
import { Readable } from 'node:stream';
import { AuditVerifier, type VerifyReport } from '../seal/audit-verifier';
import { sealExportLine } from '../seal/seal-check';
import type { SealPublicJwk } from '../seal/seal-keys';
import { AUDIT_READ_SEALS, SealRepository } from '../seal/seal.repository';
import { type AuditEventView, type EventRow, positionOf, toView } from '../event-row';
import { NotFoundError, ValidationError } from '../../common/errors';
import { type CursorPosition, decodeCursor, encodeCursor } from './audit-cursor';
import { AuditEventRepository, type StatsRow } from './audit-event.repository';
import { EXPORT_CONTENT_TYPES, type ExportFormat, exportStream, readAhead } from './audit-export';
import {
  type AuditFilters,
  type ExportQuery,
  type ListQuery,
  type SealsQuery,
  STATS_MAX_SPAN_MS,
  type StatsQuery,
  type VerifyQuery,
  filtersOf,
} from './audit-query.schema';

/** Who is reading: the authenticated operator's subject. */
export interface Auditor {
  readonly subject: string;
}

export interface EventPage {
  events: AuditEventView[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
  limit: number;
}

export interface StatsReport {
  bucket: 'hour' | 'day';
  groupBy: 'overall' | 'terminal';
  from: string;
  to: string;
  buckets: StatsRow[];
}

export interface SessionLookupResult {
  sessionFingerprint: string;
  /** The session.issued event of that sessionId. */
  issuance: AuditEventView | null;
  /** Every event of the request(s) that issued it, oldest first (the attempt, the issuance). */
  events: AuditEventView[];
}

export interface EventExport {
  filename: string;
  contentType: string;
  stream: NodeJS.ReadableStream;
}

const EXPORT_BATCH = 5_000;
/** Seals per read of the seal export (a seal of 10,000 events carries 80 kB of locators). */
const SEAL_BATCH = 50;

/** The signing keys as a JWK Set (RFC 7517), each with its validity period. */
export interface SigningKeySet {
  keys: SealPublicJwk[];
}

/**
 * The auditor's reads of the trail. Every read is itself recorded (PCI DSS 10.2.1.3: access to
 * audit logs) before anything is returned; if that record cannot be written, nothing is returned.
 */
@Injectable()
export class AuditQueryService {
  constructor(
    private readonly events: AuditEventRepository,
    private readonly audit: AuditTrail,
    private readonly fingerprinter: SessionFingerprinter,
    private readonly verifier: AuditVerifier,
    @Inject(AUDIT_READ_SEALS) private readonly seals: SealRepository,
  ) {}

  async list(q: ListQuery, who: Auditor, origin: AuditOrigin): Promise<EventPage> {
    const filters = filtersOf(q);
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, filters);
    const rows = await this.events.page(filters, after, q.limit + 1);
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    await this.recordAccess('audit.events.listed', who, origin, { filters, cursor: after ?? null, returned: page.length });
    return {
      events: page.map(toView),
      nextCursor: more ? encodeCursor(positionOf(page[page.length - 1]), filters) : null,
      limit: q.limit,
    };
  }

  /** Recorded when it starts; the stream then reads the matching events newest first in batches. */
  async export(q: ExportQuery, who: Auditor, origin: AuditOrigin): Promise<EventExport> {
    const filters = filtersOf(q);
    const startedAt = new Date().toISOString();
    await this.recordAccess('audit.events.exported', who, origin, { filters, format: q.format });
    return {
      filename: exportFilename(filters, startedAt, q.format),
      contentType: EXPORT_CONTENT_TYPES[q.format],
      stream: exportStream(this.batches(filters), q.format),
    };
  }

  async stats(q: StatsQuery, who: Auditor, origin: AuditOrigin): Promise<StatsReport> {
    const to = q.to ?? new Date().toISOString();
    const from = q.from ?? new Date(Date.parse(to) - (q.bucket === 'hour' ? 86_400_000 : 30 * 86_400_000)).toISOString();
    if (from >= to) throw new ValidationError('"from" must be before "to".', [{ path: 'from', message: 'must be before "to"' }]);
    const span = Date.parse(to) - Date.parse(from);
    if (span > STATS_MAX_SPAN_MS[q.bucket]) {
      const days = STATS_MAX_SPAN_MS[q.bucket] / 86_400_000;
      throw new ValidationError(`One stats request covers at most ${days} days with ${q.bucket} buckets.`, [
        { path: 'from', message: `at most ${days} days before "to"` },
      ]);
    }
    const filters = { ...filtersOf(q), from, to };
    const buckets = await this.events.stats(filters, q.bucket, q.groupBy === 'terminal');
    await this.recordAccess('audit.stats.read', who, origin, { filters, bucket: q.bucket, groupBy: q.groupBy });
    return { bucket: q.bucket, groupBy: q.groupBy, from, to, buckets };
  }

  async lookupSession(sessionId: string, who: Auditor, origin: AuditOrigin): Promise<SessionLookupResult> {
    const sessionFingerprint = this.fingerprinter.fingerprint(sessionId);
    let marked = await this.events.byFingerprint(sessionFingerprint);
    // A session issued a moment ago may not have reached the replica yet: the primary has it.
    const onPrimary = marked.length === 0 && this.events.fromReplica;
    if (onPrimary) marked = await this.events.byFingerprint(sessionFingerprint, true);
    await this.recordAccess('audit.session.looked-up', who, origin, { sessionFingerprint, found: marked.length });
    if (marked.length === 0) {
      throw new NotFoundError('No event of this broker carries that sessionId (never issued here, or purged by retention).');
    }
    const issuance = marked.find((row) => row[2] === 'session.issued');
    const related = await this.events.byRequestIds([...new Set(marked.map((row) => row[9] as string))], onPrimary);
    return { sessionFingerprint, issuance: issuance ? toView(issuance) : null, events: related.map(toView) };
  }

  async verify(q: VerifyQuery, who: Auditor, origin: AuditOrigin): Promise<VerifyReport> {
    const report = await this.verifier.verify(q);
    await this.recordAccess(
      'audit.verified',
      who,
      origin,
      { from: report.from, to: report.to, sealsChecked: report.sealsChecked, problem: report.problem ?? null },
      report.ok ? 'success' : 'failed',
    );
    return report;
  }

  /** Every public key that ever signed seals: what an auditor needs to check them without the broker. */
  async signingKeys(who: Auditor, origin: AuditOrigin): Promise<SigningKeySet> {
    const keys = await this.seals.signingKeys();
    await this.recordAccess('audit.signing-keys.read', who, origin, { keys: keys.map((k) => k.kid) });
    return { keys };
  }

  /** The seals whose events' span meets [from, to), oldest first, as NDJSON; recorded when it starts. */
  async exportSeals(q: SealsQuery, who: Auditor, origin: AuditOrigin): Promise<EventExport> {
    const startedAt = new Date().toISOString();
    const range = await this.seals.seqRange(q.from, q.to);
    await this.recordAccess('audit.seals.exported', who, origin, {
      from: q.from ?? null,
      to: q.to ?? null,
      firstSealSeq: range ? String(range.first) : null,
      lastSealSeq: range ? String(range.last) : null,
    });
    const repo = this.seals;
    async function* lines(): AsyncGenerator<string> {
      if (!range) return;
      for await (const batch of readAhead(sealBatches(repo, range.first, range.last))) {
        yield batch.map((seal) => `${JSON.stringify(sealExportLine(seal))}\n`).join('');
      }
    }
    const compact = (iso: string) => iso.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
    return {
      filename: `audit-seals-${q.from ? compact(q.from) : 'beginning'}-${compact(q.to ?? startedAt)}.ndjson`,
      contentType: EXPORT_CONTENT_TYPES.ndjson,
      stream: Readable.from(lines(), { objectMode: false, highWaterMark: 64 * 1024 }),
    };
  }

  private async *batches(filters: AuditFilters): AsyncGenerator<EventRow[]> {
    let after: CursorPosition | undefined;
    for (;;) {
      const batch = await this.events.page(filters, after, EXPORT_BATCH);
      if (batch.length > 0) yield batch;
      if (batch.length < EXPORT_BATCH) return;
      after = positionOf(batch[batch.length - 1]);
    }
  }

  private recordAccess(action: string, who: Auditor, origin: AuditOrigin, details: object, outcome: 'success' | 'failed' = 'success') {
    return this.audit.record({ action, outcome, actorType: 'operator', actorId: who.subject, ...origin, details });
  }
}

async function* sealBatches(repo: SealRepository, first: bigint, last: bigint) {
  for (let start = first; start <= last; start += BigInt(SEAL_BATCH)) {
    const end = start + BigInt(SEAL_BATCH) - 1n < last ? start + BigInt(SEAL_BATCH) - 1n : last;
    const batch = await repo.seals(start, end);
    if (batch.length > 0) yield batch;
  }
}

/** audit-events-<from>-<to>.<ext>, instants compacted to 20261123T120000Z. */
export function exportFilename(filters: AuditFilters, startedAt: string, format: ExportFormat): string {
  const compact = (iso: string) => iso.replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `audit-events-${filters.from ? compact(filters.from) : 'beginning'}-${compact(filters.to ?? startedAt)}.${format}`;
}
