import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { config as loadDotenv } from 'dotenv';
import { addTerminalFromCli } from './admin/cli-commands';
import { AppModule } from './app.module';
import { runAuditVerifyExport, VERIFY_EXPORT_USAGE } from './audit/seal/offline-verifier';
import { validateConfig } from './config/config.schema';
import { DatabaseConnection } from './database/database-connection';
import { migrate } from './database/database.module';
import { DeviceEnrollment, enrollDeviceSchema } from './devices/device-enrollment';
import { mintLocalOperatorToken, OPERATOR_TOKEN_USAGE } from './operators/local-operator-key';
import { TERMINAL_NUMBER } from './terminals/terminal';

const USAGE = `usage: npm run cli -- <command> [options]
  migrate                                   apply prisma/migrations to the configured database
  terminal:add --number N --label L --credential-ref REF [--endpoint URL] [--provider hyp] [--provider-config JSON]
  device:enroll --name N --public-key FILE --terminals N1,N2 [--policy JSON]
  ${OPERATOR_TOKEN_USAGE}
                                            (embedded mode: prints an operator token from the local key)
  ${VERIFY_EXPORT_USAGE}
                                            (offline: checks an audit export against the signed seals; exit 0 or 1)
`;

async function main(argv: string[]): Promise<void> {
  loadDotenv({ quiet: true });
  const [command, ...rest] = argv;
  // Needs no configuration, database or secret: an auditor runs it on their own machine.
  if (command === 'audit:verify-export') {
    const result = await runAuditVerifyExport(rest);
    (result.exitCode === 0 ? process.stdout : process.stderr).write(`${result.output}\n`);
    process.exitCode = result.exitCode;
    return;
  }
  const config = validateConfig(process.env);
  if (command === 'migrate') {
    const connection = await DatabaseConnection.open({
      databaseUrl: config.DATABASE_URL,
      poolMax: 1,
      pgliteDataDir: config.PGLITE_DATA_DIR,
    });
    try {
      const applied = await migrate(connection);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    } finally {
      await connection.close();
    }
    return;
  }
  if (command === 'operator:token') {
    process.stdout.write(`${mintLocalOperatorToken(rest, config, process.env.USER)}\n`);
    return;
  }
  if (command !== 'terminal:add' && command !== 'device:enroll') {
    process.stderr.write(USAGE);
    process.exitCode = 64;
    return;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      number: { type: 'string' },
      label: { type: 'string' },
      endpoint: { type: 'string' },
      provider: { type: 'string', default: 'hyp' },
      'credential-ref': { type: 'string' },
      'provider-config': { type: 'string' },
      name: { type: 'string' },
      'public-key': { type: 'string' },
      terminals: { type: 'string' },
      policy: { type: 'string' },
    },
  });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(), { logger: ['error', 'warn'] });
  try {
    if (command === 'terminal:add') {
      const endpointUrl = values.endpoint ?? config.HYP_DEFAULT_ENDPOINT;
      if (!values.number || !TERMINAL_NUMBER.test(values.number) || !values.label || !values['credential-ref'] || !endpointUrl) {
        throw new Error('terminal:add needs --number (10 digits), --label, --credential-ref and --endpoint (or HYP_DEFAULT_ENDPOINT)');
      }
      // Through the admin service, as the API: same checks, and saved only with its audit event.
      const t = await addTerminalFromCli(app, { ...values, endpoint: endpointUrl }, process.env.USER ?? 'unknown', `cli-${randomUUID()}`);
      process.stdout.write(`terminal ${t.terminalNumber} (${t.id}) saved\n`);
    } else {
      const input = enrollDeviceSchema.parse({
        name: values.name,
        publicKey: values['public-key'] ? readFileSync(values['public-key'], 'utf8') : undefined,
        terminalNumbers: values.terminals?.split(',').map((s) => s.trim()),
        policy: values.policy ? (JSON.parse(values.policy) as unknown) : { allowUnscoped: false, allowed: [] },
      });
      const device = await app.get(DeviceEnrollment).enroll(
        input,
        { type: 'operator', id: `cli:${process.env.USER ?? 'unknown'}` },
        {
          requestId: `cli-${randomUUID()}`,
        },
      );
      process.stdout.write(`${JSON.stringify(device)}\n`);
    }
  } finally {
    await app.close();
  }
}

void main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
