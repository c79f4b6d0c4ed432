import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import { Prisma, type Terminal as TerminalRow } from '../generated/prisma/client';
import { toTerminal } from '../terminals/terminal.repository';
import type { Terminal } from '../terminals/terminal';
import type { CreateTerminal, ListTerminals, UpdateTerminal } from './admin.schemas';

/** A terminal as the admin API shows it: its credential reference is a path, never a credential. */
export interface TerminalRecord extends Terminal {
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Terminal I/O of the admin API (the hot path reads through TerminalRepository/TerminalDirectory). */
@Injectable()
export class TerminalAdminRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** null when the terminal number is taken. */
  async create(input: CreateTerminal): Promise<TerminalRecord | null> {
    try {
      return toRecord(await this.prisma.terminal.create({ data: { id: randomUUID(), ...input } }));
    } catch (err) {
      if (isUniqueViolation(err)) return null;
      throw err;
    }
  }

  async find(terminalNumber: string): Promise<TerminalRecord | null> {
    const row = await this.prisma.terminal.findUnique({ where: { terminalNumber } });
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
  async update(terminalNumber: string, changes: UpdateTerminal): Promise<TerminalRecord | null> {
    try {
      return toRecord(await this.prisma.terminal.update({ where: { terminalNumber }, data: changes }));
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025') return null;
      throw err;
    }
  }
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}

function toRecord(row: TerminalRow): TerminalRecord {
  return { ...toTerminal(row), createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}
