import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { TxClient } from '../audit/audit-transactions';
import { DatabaseConnection } from '../database/database-connection';
import { PrismaService } from '../database/prisma.service';
import type { Prisma, Terminal as TerminalRow } from '../generated/prisma/client';
import { scopePolicySchema } from '../policy/scope-policy';
import { checkProviderConfig, PROVIDER_DEFINITIONS } from './provider-config';
import type { Terminal } from './terminal';

export type TerminalInput = Omit<Terminal, 'id' | 'enabled' | 'defaultPolicy' | 'providerConfig'> &
  Partial<Pick<Terminal, 'enabled' | 'defaultPolicy' | 'providerConfig'>>;

const FIND_BY_NUMBER = `SELECT id::text AS id, terminal_number AS "terminalNumber", label, provider, endpoint_url AS "endpointUrl",
    credential_ref AS "credentialRef", enabled, default_policy AS "defaultPolicy", provider_config AS "providerConfig"
  FROM terminal WHERE terminal_number = $1`;

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
