import 'reflect-metadata';
import { config as loadDotenv } from 'dotenv';
import { Logger } from 'nestjs-pino';
import { createApp } from '../app.factory';
import { exitGracefullyOnSignals } from '../lifecycle/graceful-shutdown';
import { validateConfig } from '../config/config.schema';
import { createHypSandbox } from '../sandbox/hyp/hyp-sandbox';
import { TerminalRepository } from '../terminals/terminal.repository';
import { DEMO_TERMINAL, ensureDevSecrets, sandboxTerminals } from './dev-secrets';

/**
 * `npm start`: the embedded default. PGlite under ./data, generated dev secrets, the Hyp sandbox
 * in-process, device self-enrollment with a local bootstrap token, and a demo terminal.
 */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const env: Record<string, string | undefined> = {
    HYP_SANDBOX: 'embedded',
    BOOTSTRAP_ENROLLMENT: 'true',
    ...process.env,
  };
  const config = validateConfig(env);
  if (config.NODE_ENV === 'production') throw new Error('The embedded mode is for development; use `npm run start:prod`.');

  const secrets = ensureDevSecrets(config.SECRETS_FILE, config.AUDIT_FINGERPRINT_KEY_REF);
  const sandbox = createHypSandbox({
    terminals: sandboxTerminals(secrets),
    faults: { latencyMs: config.HYP_SANDBOX_LATENCY_MS, forceResult: config.HYP_SANDBOX_FORCE_RESULT },
  });
  const sandboxUrl = await sandbox.listen(config.HYP_SANDBOX_PORT, config.HYP_SANDBOX_HOST);
  env.HYP_DEFAULT_ENDPOINT ??= sandboxUrl;

  const app = await createApp({ env });
  await app.init();
  const terminals = app.get(TerminalRepository);
  // Re-pointed at every start: the sandbox port may have changed since the last one.
  await terminals.upsert({
    terminalNumber: DEMO_TERMINAL,
    label: 'Hyp sandbox terminal',
    provider: 'hyp',
    endpointUrl: sandboxUrl,
    credentialRef: `hyp/${DEMO_TERMINAL}`,
  });
  app.getHttpServer().once('close', () => void sandbox.close());
  exitGracefullyOnSignals(app, config.SHUTDOWN_TIMEOUT_MS, (m) => app.get(Logger).log(m, 'Shutdown'));
  await app.listen({ port: config.PORT, host: config.HOST });

  const base = `http://${config.HOST}:${config.PORT}`;
  app.get(Logger).log(`embedded broker ready at ${base}`, 'Embedded');
  // After the buffered start-up log lines, so the instructions are the last thing on screen.
  await new Promise((r) => setTimeout(r, 50));
  process.stdout.write(
    [
      '',
      `  pos-session-broker (embedded) listening on ${base}`,
      `  Hyp sandbox:          ${sandboxUrl}`,
      `  database:             PGlite in ${config.PGLITE_DATA_DIR}`,
      `  secrets:              ${config.SECRETS_FILE} (generated, development only)`,
      `  bootstrap token:      ${config.BOOTSTRAP_TOKEN_FILE}`,
      '',
      '  Try it, in another terminal:',
      '    npm run demo        # a POS device enrolls, gets a session and pays with it on the sandbox',
      `    curl -s ${base}/health/ready`,
      '',
    ].join('\n'),
  );
}

void main().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
