import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { TxClient } from '../audit/audit-transactions';
import { PrismaService } from '../database/prisma.service';
import type { Terminal as TerminalRow } from '../generated/prisma/client';
import { scopePolicySchema } from '../policy/scope-policy';
import type { Terminal } from './terminal';

export type TerminalInput = Omit<Terminal, 'id' | 'enabled' | 'defaultPolicy'> & Partial<Pick<Terminal, 'enabled' | 'defaultPolicy'>>;

@Injectable()
export class TerminalRepository {
  constructor(private readonly prisma: PrismaService) {}

  async findByNumber(terminalNumber: string): Promise<Terminal | null> {
    const row = await this.prisma.terminal.findUnique({ where: { terminalNumber } });
    return row && toTerminal(row);
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
    const row = await this.prisma.terminal.upsert({
      where: { terminalNumber: input.terminalNumber },
      create: { id: randomUUID(), ...input },
      update: { ...input },
    });
    return toTerminal(row);
  }
}

/** The row as the hot path sees it: every column but the timestamps, the default policy parsed. */
export function toTerminal(row: TerminalRow): Terminal {
  const { createdAt: _created, updatedAt: _updated, defaultPolicy, ...columns } = row;
  return { ...columns, defaultPolicy: scopePolicySchema.parse(defaultPolicy) };
}
