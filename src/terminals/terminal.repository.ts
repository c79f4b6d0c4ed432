import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { TxClient } from '../audit/audit-transactions';
import { DatabaseConnection } from '../database/database-connection';
import { PrismaService } from '../database/prisma.service';
import { Prisma, type Terminal as TerminalRow } from '../generated/prisma/client';
import { scopePolicySchema } from '../policy/scope-policy';
import { checkProviderConfig, PROVIDER_DEFINITIONS } from './provider-config';
import type { Terminal, TerminalChanges, TerminalInput, TerminalQuery, TerminalRecord } from './terminal';

const FIND_BY_NUMBER = `SELECT id::text AS id, terminal_number AS "terminalNumber", label, provider, endpoint_url AS "endpointUrl",
    credential_ref AS "credentialRef", enabled, default_policy AS "defaultPolicy", provider_config AS "providerConfig"
  FROM terminal WHERE terminal_number = $1`;

/**
 * The terminal table: the session path's lookups, the admin API's reads and changes, and seeding.
 * Admin changes take the transaction their audit event is written in (AuditTransactions); the
 * service that makes them (TerminalsService) invalidates TerminalDirectory after the commit.
 */
@Injectable()
export class TerminalRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: DatabaseConnection,
  ) {}

  /**
   * The session path's lookup (TerminalDirectory, on a cache miss): one prepared statement on the
   * shared pg pool, not Prisma, whose query compiler cost milliseconds of CPU per lookup there
   * (BENCHMARKS.md, Steps). The same object as toTerminal makes of the row.
   */
  async findByNumber(terminalNumber: string): Promise<Terminal | null> {
    const [row] = await this.db.sql.query<Omit<TerminalRow, 'createdAt' | 'updatedAt'>>(FIND_BY_NUMBER, [terminalNumber], 'terminal_by_number');
    return row ? { ...row, defaultPolicy: scopePolicySchema.parse(row.defaultPolicy) } : null;
  }

  /** `tx`: inside that transaction (a device enrollment binding them). */
  async findByNumbers(terminalNumbers: readonly string[], tx?: TxClient): Promise<Terminal[]> {
    const rows = await (tx ?? this.prisma).terminal.findMany({ where: { terminalNumber: { in: [...terminalNumbers] } } });
    return rows.map(toTerminal);
  }

  /** The admin view. `forUpdate`: locks the row until `tx` ends, so that before/after of a change are exact. */
  async findRecord(terminalNumber: string, tx?: TxClient, forUpdate = false): Promise<TerminalRecord | null> {
    if (tx && forUpdate) await tx.$queryRaw`SELECT 1 FROM terminal WHERE terminal_number = ${terminalNumber} FOR UPDATE`;
    const row = await (tx ?? this.prisma).terminal.findUnique({ where: { terminalNumber } });
    return row && toRecord(row);
  }

  /** Ordered by terminal number. */
  async list(q: TerminalQuery): Promise<{ items: TerminalRecord[]; total: number }> {
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

  /**
   * null when the terminal number is taken. Inside a transaction a failed INSERT would abort it,
   * so the number is claimed with ON CONFLICT DO NOTHING rather than by catching the violation.
   * The provider configuration is the caller's to check (TerminalsService, with the gateway registry).
   */
  async create(input: TerminalInput, tx: TxClient): Promise<TerminalRecord | null> {
    const id = randomUUID();
    const { providerConfig, ...columns } = input;
    const data = { id, ...columns, providerConfig: (providerConfig ?? {}) as Prisma.InputJsonObject };
    const { count } = await tx.terminal.createMany({ data: [data], skipDuplicates: true });
    if (count !== 1) return null;
    const row = await tx.terminal.findUniqueOrThrow({ where: { id } });
    return toRecord(row);
  }

  /** null when there is no such terminal. The provider configuration is the caller's to check, as for create. */
  async update(terminalNumber: string, changes: TerminalChanges, tx: TxClient): Promise<TerminalRecord | null> {
    try {
      const { providerConfig, ...columns } = changes;
      const data = providerConfig === undefined ? columns : { ...columns, providerConfig: providerConfig as Prisma.InputJsonObject };
      return toRecord(await tx.terminal.update({ where: { terminalNumber }, data }));
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025') return null;
      throw err;
    }
  }

  /**
   * Creates or overwrites a terminal without an audit event: for seeding (tests, the embedded
   * demo). Operators change terminals through TerminalsService (admin API, CLI), which records
   * each change with it.
   */
  async upsert(input: TerminalInput): Promise<Terminal> {
    const { providerConfig, ...columns } = input;
    // Checked like the admin API checks it: a terminal never holds a configuration its provider refuses.
    const data = { ...columns, providerConfig: checkProviderConfig(PROVIDER_DEFINITIONS, input.provider, providerConfig) as Prisma.InputJsonObject };
    const row = await this.prisma.terminal.upsert({
      where: { terminalNumber: input.terminalNumber },
      create: { id: randomUUID(), ...data },
      update: data,
    });
    return toTerminal(row);
  }
}

/** The row as the hot path sees it: every column but the timestamps, the default policy parsed. */
export function toTerminal(row: TerminalRow): Terminal {
  const { createdAt: _created, updatedAt: _updated, defaultPolicy, ...columns } = row;
  return { ...columns, defaultPolicy: scopePolicySchema.parse(defaultPolicy) };
}

/** The row as the admin API shows it: with its timestamps, the provider configuration an object. */
function toRecord(row: TerminalRow): TerminalRecord {
  const providerConfig = (typeof row.providerConfig === 'object' && row.providerConfig !== null ? row.providerConfig : {}) as Record<string, unknown>;
  return { ...toTerminal(row), providerConfig, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}
