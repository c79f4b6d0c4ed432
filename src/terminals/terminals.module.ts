import { Module } from '@nestjs/common';
import { TerminalDirectory } from './terminal-directory';
import { TerminalRepository } from './terminal.repository';

@Module({ providers: [TerminalRepository, TerminalDirectory], exports: [TerminalRepository, TerminalDirectory] })
export class TerminalsModule {}
