import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { TxClient } from '../audit/audit-transactions';
import { PrismaService } from '../database/prisma.service';
import { Prisma, type Terminal as TerminalRow } from '../generated/prisma/client';
import { toTerminal } from '../terminals/terminal.repository';
import type { Terminal } from '../terminals/terminal';
import type { CreateTerminal, ListTerminals, UpdateTerminal } from './admin.schemas';

/**
 * A terminal as the admin API shows it: its credential reference is a path, never a credential;
 * its provider configuration holds the provider's non-secret fields only (provider-config.ts).
 */
export interface TerminalRecord extends Terminal {
  readonly providerConfig: Record<string, unknown>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * Terminal I/O of the admin API (the hot path reads through TerminalRepository/TerminalDirectory).
 * Changes take the transaction their audit event is written in (AuditTransactions).
 */
@Injectable()
export class TerminalAdminRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * null when the terminal number is taken. Inside a transaction a failed INSERT would abort it,
   * so the number is claimed with ON CONFLICT DO NOTHING rather than by catching the violation.
   */
  async create(input: CreateTerminal, tx: TxClient): Promise<TerminalRecord | null> {
    const id = randomUUID();
    const { providerConfig, ...columns } = input;
    const data = { id, ...columns, providerConfig: (providerConfig ?? {}) as Prisma.InputJsonObject };
    const { count } = await tx.terminal.createMany({ data: [data], skipDuplicates: true });
    if (count !== 1) return null;
    const row = await tx.terminal.findUniqueOrThrow({ where: { id } });
    return toRecord(row);
  }

  /** `forUpdate`: locks the row until `tx` ends, so that before/after of a change are exact. */
  async find(terminalNumber: string, tx?: TxClient, forUpdate = false): Promise<TerminalRecord | null> {
    if (tx && forUpdate) await tx.$queryRaw`SELECT 1 FROM terminal WHERE terminal_number = ${terminalNumber} FOR UPDATE`;
    const row = await (tx ?? this.prisma).terminal.findUnique({ where: { terminalNumber } });
    return row && toRecord(row);
  }

  /** Ordered by terminal number. */
  async list(q: ListTerminals): Promise<{ items: TerminalRecord[]; total: number }> {
    const where: Prisma.TerminalWhereInput = {
      enabled: q.enabled,
      provider: q.provider,
      label: q.label === undefined ? undefined : { contains: q.label, mode: 'insensitive' },
    };
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.terminal.findMany({ where, orderBy: { terminalNumber: 'asc' }, take: q.limit, skip: q.offset }),
      this.prisma.terminal.count({ where }),
    ]);
    return { items: rows.map(toRecord), total };
  }

  /** null when there is no such terminal. */
  async update(terminalNumber: string, changes: UpdateTerminal, tx: TxClient): Promise<TerminalRecord | null> {
    try {
      const { providerConfig, ...columns } = changes;
      const data = providerConfig === undefined ? columns : { ...columns, providerConfig: providerConfig as Prisma.InputJsonObject };
      return toRecord(await tx.terminal.update({ where: { terminalNumber }, data }));
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025') return null;
      throw err;
    }
  }
}

function toRecord(row: TerminalRow): TerminalRecord {
  const providerConfig = (typeof row.providerConfig === 'object' && row.providerConfig !== null ? row.providerConfig : {}) as Record<string, unknown>;
  return { ...toTerminal(row), providerConfig, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}
