import { Injectable } from '@nestjs/common';
import type { AuditOrigin } from '../audit/audit-event';
import { ConflictError, NotFoundError, ValidationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { GatewayRegistry } from '../gateways/gateway-registry';
import type { OperatorPrincipal } from '../operators/operator';
import { TerminalDirectory } from '../terminals/terminal-directory';
import { AdminAudit, changedFields } from './admin-audit';
import type { CreateTerminal, ListTerminals, UpdateTerminal } from './admin.schemas';
import type { Page } from './page';
import { TerminalAdminRepository, type TerminalRecord } from './terminal-admin.repository';

const AUDITED_FIELDS = ['label', 'provider', 'endpointUrl', 'credentialRef', 'enabled', 'defaultPolicy'] as const;

/** The admin rules for terminals; changes reach every instance's TerminalDirectory within its TTL. */
@Injectable()
export class TerminalsService {
  constructor(
    private readonly terminals: TerminalAdminRepository,
    private readonly directory: TerminalDirectory,
    private readonly gateways: GatewayRegistry,
    private readonly audit: AdminAudit,
    private readonly config: AppConfig,
  ) {}

  async create(input: CreateTerminal, operator: OperatorPrincipal, origin: AuditOrigin): Promise<TerminalRecord> {
    this.checkGateway(input.provider, input.endpointUrl);
    const created = await this.terminals.create(input);
    if (!created) throw new ConflictError(`Terminal ${input.terminalNumber} already exists.`);
    // A lookup of the number before it existed may be cached as "not found".
    this.directory.invalidate(created.terminalNumber);
    await this.audit.record('terminal.created', operator, origin, {
      terminalNumber: created.terminalNumber,
      before: null,
      after: pick(created, AUDITED_FIELDS),
    });
    return created;
  }

  async list(query: ListTerminals): Promise<Page<TerminalRecord>> {
    const { items, total } = await this.terminals.list(query);
    return { items, total, limit: query.limit, offset: query.offset };
  }

  async get(terminalNumber: string): Promise<TerminalRecord> {
    const terminal = await this.terminals.find(terminalNumber);
    if (!terminal) throw new NotFoundError(`No terminal ${terminalNumber}.`);
    return terminal;
  }

  async update(terminalNumber: string, changes: UpdateTerminal, operator: OperatorPrincipal, origin: AuditOrigin, action = 'terminal.updated'): Promise<TerminalRecord> {
    const before = await this.get(terminalNumber);
    this.checkGateway(changes.provider ?? before.provider, changes.endpointUrl ?? before.endpointUrl);
    const after = await this.terminals.update(terminalNumber, changes);
    if (!after) throw new NotFoundError(`No terminal ${terminalNumber}.`);
    this.directory.invalidate(terminalNumber);
    await this.audit.record(action, operator, origin, { terminalNumber, ...changedFields(before, after, AUDITED_FIELDS) });
    return after;
  }

  setEnabled(terminalNumber: string, enabled: boolean, operator: OperatorPrincipal, origin: AuditOrigin): Promise<TerminalRecord> {
    return this.update(terminalNumber, { enabled }, operator, origin, enabled ? 'terminal.enabled' : 'terminal.disabled');
  }

  private checkGateway(provider: string, endpointUrl: string): void {
    if (!this.gateways.get(provider)) {
      throw new ValidationError(`Unknown gateway provider "${provider}" (known: ${this.gateways.names.join(', ')}).`, [
        { path: 'provider', message: 'unknown gateway provider' },
      ]);
    }
    // As for HYP_DEFAULT_ENDPOINT: credentials never travel in clear text in production.
    if (this.config.isProduction && !endpointUrl.startsWith('https://')) {
      throw new ValidationError('endpointUrl must be https:// in production.', [{ path: 'endpointUrl', message: 'must be https://' }]);
    }
  }
}

function pick<T extends object, K extends keyof T>(value: T, fields: readonly K[]): Pick<T, K> {
  return Object.fromEntries(fields.map((f) => [f, value[f]])) as Pick<T, K>;
}
