import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import type { Terminal } from './terminal';

@Injectable()
export class TerminalRepository {
  constructor(private readonly prisma: PrismaService) {}

  async findByNumber(terminalNumber: string): Promise<Terminal | null> {
    return this.prisma.terminal.findUnique({ where: { terminalNumber } });
  }

  async findByNumbers(terminalNumbers: readonly string[]): Promise<Terminal[]> {
    return this.prisma.terminal.findMany({ where: { terminalNumber: { in: [...terminalNumbers] } } });
  }

  async upsert(input: Omit<Terminal, 'id' | 'enabled'> & { enabled?: boolean }): Promise<Terminal> {
    return this.prisma.terminal.upsert({
      where: { terminalNumber: input.terminalNumber },
      create: { id: randomUUID(), ...input },
      update: { ...input },
    });
  }
}
