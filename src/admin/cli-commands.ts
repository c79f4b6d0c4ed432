import type { INestApplicationContext } from '@nestjs/common';
import { ValidationError } from '../common/errors';
import { validationErrorOf } from '../common/zod-issues';
import type { TerminalRecord } from '../terminals/terminal';
import { createTerminalSchema } from './admin.schemas';
import { TerminalsService } from './terminals.service';

/** The options of `cli terminal:add`, as parseArgs gives them. */
export interface TerminalAddArgs {
  number?: string;
  label?: string;
  /** Already defaulted to HYP_DEFAULT_ENDPOINT by the caller when not given. */
  endpoint?: string;
  provider?: string;
  'credential-ref'?: string;
  /** JSON: the provider's non-secret fields, checked as the admin API checks providerConfig. */
  'provider-config'?: string;
}

/**
 * `cli terminal:add`: through TerminalsService like the admin API, so the same checks apply and
 * the change is recorded in the same transaction (`terminal.created`, or `terminal.updated` when
 * the number exists), with `cli:<user>` as actor. `requestId` ties the event to this run.
 */
export async function addTerminalFromCli(app: INestApplicationContext, args: TerminalAddArgs, user: string, requestId: string): Promise<TerminalRecord> {
  let providerConfig: unknown;
  if (args['provider-config'] !== undefined) {
    try {
      providerConfig = JSON.parse(args['provider-config']);
    } catch {
      // The parser's message quotes the input: it is not repeated.
      throw new ValidationError('terminal:add: --provider-config must be a JSON object.', [{ path: 'providerConfig', message: 'must be a JSON object' }]);
    }
  }
  const parsed = createTerminalSchema.safeParse({
    terminalNumber: args.number,
    label: args.label,
    provider: args.provider ?? 'hyp',
    endpointUrl: args.endpoint,
    credentialRef: args['credential-ref'],
    providerConfig,
  });
  if (!parsed.success) {
    throw validationErrorOf(parsed.error, 'terminal:add', [], '');
  }
  return app.get(TerminalsService).createOrUpdate(parsed.data, { subject: `cli:${user}` }, { requestId });
}
