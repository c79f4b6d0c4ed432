import { Injectable } from '@nestjs/common';
import type { TxClient } from '../audit/audit-transactions';
import { PrismaService } from '../database/prisma.service';
import { Prisma } from '../generated/prisma/client';
import { scopePolicySchema, type ScopePolicy } from '../policy/scope-policy';
import type { EnrollmentCodeRecord, EnrollmentCodeStatus } from './enrollment.schemas';

export interface NewEnrollmentCode {
  readonly id: string;
  readonly codeHash: string;
  readonly name: string | null;
  readonly terminalNumbers: readonly string[];
  readonly policy: ScopePolicy | null;
  readonly maxUses: number;
  readonly expiresAt: Date;
  readonly createdBy: string;
}

/** What redemption needs to know about a code; never the code itself, which is not stored. */
export interface StoredEnrollmentCode {
  readonly id: string;
  readonly name: string | null;
  readonly terminalNumbers: string[];
  readonly policy: ScopePolicy | null;
  readonly maxUses: number;
  readonly uses: number;
  readonly expired: boolean;
  readonly revoked: boolean;
}

type Row = {
  id: string;
  name: string | null;
  terminal_numbers: string[];
  policy: unknown;
  max_uses: number;
  uses: number;
  expires_at: Date;
  created_at: Date;
  created_by: string;
  revoked_at: Date | null;
  expired: boolean;
};

const COLUMNS = Prisma.sql`id::text, name, terminal_numbers::text[], policy, max_uses, uses, expires_at, created_at, created_by, revoked_at,
  expires_at <= now() AS expired`;

/** Status, in order of precedence: revoked, used (up), expired, pending. */
const STATUS_WHERE: Record<EnrollmentCodeStatus, Prisma.Sql> = {
  revoked: Prisma.sql`revoked_at IS NOT NULL`,
  used: Prisma.sql`revoked_at IS NULL AND uses >= max_uses`,
  expired: Prisma.sql`revoked_at IS NULL AND uses < max_uses AND expires_at <= now()`,
  pending: Prisma.sql`revoked_at IS NULL AND uses < max_uses AND expires_at > now()`,
};

/**
 * The enrollment_code table, in plain SQL (no Prisma model: nothing else reads it). Changes take
 * the caller's transaction, so that each commits with its audit event (AuditTransactions).
 */
@Injectable()
export class EnrollmentCodeRepository {
  constructor(private readonly prisma: PrismaService) {}

  async create(code: NewEnrollmentCode, tx: TxClient): Promise<EnrollmentCodeRecord> {
    const rows = await tx.$queryRaw<Row[]>`
      INSERT INTO enrollment_code (id, code_hash, name, terminal_numbers, policy, max_uses, expires_at, created_by)
      VALUES (${code.id}::uuid, ${code.codeHash}, ${code.name}, ${[...code.terminalNumbers]}::varchar[],
        ${code.policy === null ? null : JSON.stringify(code.policy)}::jsonb, ${code.maxUses}, ${code.expiresAt}, ${code.createdBy})
      RETURNING ${COLUMNS}`;
    return toRecord(rows[0]);
  }

  /** Revokes a code not revoked yet; null when there is none such (absent, or revoked already). */
  async revoke(id: string, by: string, tx: TxClient): Promise<EnrollmentCodeRecord | null> {
    const rows = await tx.$queryRaw<Row[]>`
      UPDATE enrollment_code SET revoked_at = now(), revoked_by = ${by}
      WHERE id = ${id}::uuid AND revoked_at IS NULL
      RETURNING ${COLUMNS}`;
    return rows.length === 1 ? toRecord(rows[0]) : null;
  }

  async find(id: string): Promise<EnrollmentCodeRecord | null> {
    const rows = await this.prisma.$queryRaw<Row[]>`SELECT ${COLUMNS} FROM enrollment_code WHERE id = ${id}::uuid`;
    return rows.length === 1 ? toRecord(rows[0]) : null;
  }

  async findByHash(codeHash: string): Promise<StoredEnrollmentCode | null> {
    const rows = await this.prisma.$queryRaw<Row[]>`SELECT ${COLUMNS} FROM enrollment_code WHERE code_hash = ${codeHash}`;
    return rows.length === 1 ? toStored(rows[0]) : null;
  }

  async findStored(id: string, tx: TxClient = this.prisma): Promise<StoredEnrollmentCode | null> {
    const rows = await tx.$queryRaw<Row[]>`SELECT ${COLUMNS} FROM enrollment_code WHERE id = ${id}::uuid`;
    return rows.length === 1 ? toStored(rows[0]) : null;
  }

  /** Newest first. */
  async list(status: EnrollmentCodeStatus | undefined, page: { limit: number; offset: number }): Promise<{ items: EnrollmentCodeRecord[]; total: number }> {
    const where = status === undefined ? Prisma.sql`TRUE` : STATUS_WHERE[status];
    const [rows, [{ total }]] = await Promise.all([
      this.prisma.$queryRaw<Row[]>`SELECT ${COLUMNS} FROM enrollment_code WHERE ${where}
        ORDER BY created_at DESC, id DESC LIMIT ${page.limit} OFFSET ${page.offset}`,
      this.prisma.$queryRaw<Array<{ total: number }>>`SELECT count(*)::int AS total FROM enrollment_code WHERE ${where}`,
    ]);
    return { items: rows.map(toRecord), total };
  }

  /**
   * Takes one use of a code, atomically: only while it is unrevoked, unexpired and has a use left.
   * Of any number of concurrent redemptions of the last use, exactly one gets `true` (the row lock
   * makes the others wait, then re-check `uses < max_uses` against the committed count). Runs in
   * the transaction that creates the device, so the use and the device commit together.
   */
  async claimUse(id: string, tx: TxClient): Promise<boolean> {
    const taken = await tx.$executeRaw`UPDATE enrollment_code SET uses = uses + 1
      WHERE id = ${id}::uuid AND uses < max_uses AND revoked_at IS NULL AND expires_at > now()`;
    return taken === 1;
  }
}

function policyOf(value: unknown): ScopePolicy | null {
  return value === null ? null : scopePolicySchema.parse(value);
}

export function statusOf(row: { revoked: boolean; uses: number; maxUses: number; expired: boolean }): EnrollmentCodeStatus {
  if (row.revoked) return 'revoked';
  if (row.uses >= row.maxUses) return 'used';
  return row.expired ? 'expired' : 'pending';
}

function toRecord(row: Row): EnrollmentCodeRecord {
  return {
    id: row.id,
    name: row.name,
    status: statusOf({ revoked: row.revoked_at !== null, uses: row.uses, maxUses: row.max_uses, expired: row.expired }),
    terminalNumbers: row.terminal_numbers,
    policy: policyOf(row.policy),
    maxUses: row.max_uses,
    uses: row.uses,
    expiresAt: row.expires_at.toISOString(),
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}

function toStored(row: Row): StoredEnrollmentCode {
  return {
    id: row.id,
    name: row.name,
    terminalNumbers: row.terminal_numbers,
    policy: policyOf(row.policy),
    maxUses: row.max_uses,
    uses: row.uses,
    expired: row.expired,
    revoked: row.revoked_at !== null,
  };
}
