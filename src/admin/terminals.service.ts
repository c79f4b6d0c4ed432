import { Injectable } from '@nestjs/common';
import type { AuditOrigin } from '../http/audit-origin';
import { ConflictError, NotFoundError, ValidationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { GatewayRegistry } from '../gateways/gateway-registry';
import { checkProviderConfig } from '../terminals/provider-config';
import type { TerminalRecord } from '../terminals/terminal';
import { TerminalDirectory } from '../terminals/terminal-directory';
import { TerminalRepository } from '../terminals/terminal.repository';
import { AdminAudit, changedFields, type AdminActor } from './admin-audit';
import type { CreateTerminal, ListTerminals, UpdateTerminal } from './admin.schemas';
import type { Page } from './page';

const AUDITED_FIELDS = ['label', 'provider', 'endpointUrl', 'credentialRef', 'enabled', 'defaultPolicy', 'providerConfig'] as const;

/**
 * The admin rules for terminals, and the one writer of the terminal table besides seeding. Changes
 * reach this instance's cache (TerminalDirectory, which holds the provider configuration too) at
 * once, every other instance's within its TTL.
 */
@Injectable()
export class TerminalsService {
  constructor(
    private readonly terminals: TerminalRepository,
    private readonly directory: TerminalDirectory,
    private readonly gateways: GatewayRegistry,
    private readonly audit: AdminAudit,
    private readonly config: AppConfig,
  ) {}

  async create(input: CreateTerminal, actor: AdminActor, origin: AuditOrigin): Promise<TerminalRecord> {
    this.checkGateway(input.provider, input.endpointUrl);
    // Hyp has no provider fields: no configuration is its empty one. Any other provider needs its own.
    const providerConfig = checkProviderConfig(this.gateways, input.provider, input.providerConfig);
    const created = await this.audit.change('terminal.created', actor, origin, async (tx) => {
      const created = await this.terminals.create({ ...input, providerConfig }, tx);
      if (!created) throw new ConflictError(`Terminal ${input.terminalNumber} already exists.`);
      return { result: created, change: { terminalNumber: created.terminalNumber, before: null, after: pick(created, AUDITED_FIELDS) } };
    });
    // A lookup of the number before it existed may be cached as "not found".
    this.invalidate(created.terminalNumber);
    return created;
  }

  async list(query: ListTerminals): Promise<Page<TerminalRecord>> {
    const { items, total } = await this.terminals.list(query);
    return { items, total, limit: query.limit, offset: query.offset };
  }

  async get(terminalNumber: string): Promise<TerminalRecord> {
    const terminal = await this.terminals.findRecord(terminalNumber);
    if (!terminal) throw new NotFoundError(`No terminal ${terminalNumber}.`);
    return terminal;
  }

  async update(terminalNumber: string, changes: UpdateTerminal, actor: AdminActor, origin: AuditOrigin, action = 'terminal.updated'): Promise<TerminalRecord> {
    const after = await this.audit.change(action, actor, origin, async (tx) => {
      // Locked, so that what the event records as before is what this change replaced.
      const before = await this.terminals.findRecord(terminalNumber, tx, true);
      if (!before) throw new NotFoundError(`No terminal ${terminalNumber}.`);
      const provider = changes.provider ?? before.provider;
      this.checkGateway(provider, changes.endpointUrl ?? before.endpointUrl);
      // A new provider must find a configuration it accepts: the one given, or else the stored one.
      const providerConfig =
        changes.providerConfig !== undefined || provider !== before.provider
          ? checkProviderConfig(this.gateways, provider, changes.providerConfig ?? before.providerConfig)
          : undefined;
      const after = await this.terminals.update(terminalNumber, { ...changes, providerConfig }, tx);
      if (!after) throw new NotFoundError(`No terminal ${terminalNumber}.`);
      return { result: after, change: { terminalNumber, ...changedFields(before, after, AUDITED_FIELDS) } };
    });
    this.invalidate(terminalNumber);
    return after;
  }

  setEnabled(terminalNumber: string, enabled: boolean, actor: AdminActor, origin: AuditOrigin): Promise<TerminalRecord> {
    return this.update(terminalNumber, { enabled }, actor, origin, enabled ? 'terminal.enabled' : 'terminal.disabled');
  }

  /**
   * The CLI's `terminal:add`: creates the terminal, or updates the one with that number, as the
   * admin API would (same checks, same events, actor `cli:<user>`).
   */
  async createOrUpdate(input: CreateTerminal, actor: AdminActor, origin: AuditOrigin): Promise<TerminalRecord> {
    const existing = await this.terminals.findRecord(input.terminalNumber);
    if (!existing) return this.create(input, actor, origin);
    // Only what the command names: the terminal's policy and enabled state, and its provider
    // configuration unless --provider-config is given, stay as they are.
    const { label, provider, endpointUrl, credentialRef, providerConfig } = input;
    return this.update(input.terminalNumber, { label, provider, endpointUrl, credentialRef, providerConfig }, actor, origin);
  }

  /** After the commit: this instance's caches drop the terminal; other instances' expire. */
  private invalidate(terminalNumber: string): void {
    this.directory.invalidate(terminalNumber);
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
