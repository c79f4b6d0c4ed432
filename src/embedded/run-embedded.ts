import 'reflect-metadata';
import { config as loadDotenv } from 'dotenv';
import { Logger } from 'nestjs-pino';
import { createApp } from '../app.factory';
import { exitGracefullyOnSignals } from '../lifecycle/graceful-shutdown';
import { assertPortFree, describeStartUpFailure } from '../lifecycle/start-up';
import { MetricsServer } from '../metrics/metrics.controller';
import { validateConfig } from '../config/config.schema';
import { ensureLocalOperatorKey, localOperatorSettings } from '../operators/local-operator-key';
import { createHypSandbox } from '../sandbox/hyp/hyp-sandbox';
import { startProviderSandboxes } from '../sandbox/provider-sandboxes';
import { TerminalRepository } from '../terminals/terminal.repository';
import { DEMO_PROVIDER_TERMINALS, DEMO_TERMINAL, DEV_SEAL_KEY_REF, ensureDevSecrets, sandboxTerminals } from './dev-secrets';

/**
 * `npm start`: the embedded default. PGlite under ./data, generated dev secrets, the Hyp sandbox
 * in-process, device self-enrollment with a local bootstrap token, and a demo terminal.
 */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const env: Record<string, string | undefined> = {
    HYP_SANDBOX: 'embedded',
    BOOTSTRAP_ENROLLMENT: 'true',
    // The console's "Sign in (development)" (production refuses it).
    CONSOLE_DEV_SIGN_IN: 'true',
    // The seal signing key ensureDevSecrets generates (an Ed25519 key of its own).
    AUDIT_SEAL_KEY_REF: DEV_SEAL_KEY_REF,
    ...process.env,
  };
  const config = validateConfig(env);
  if (config.NODE_ENV === 'production') throw new Error('The embedded mode is for development; use `npm run start:prod`.');

  await assertPortFree(config.PORT, config.HOST, 'PORT');
  const secrets = ensureDevSecrets(config.SECRETS_FILE, config.AUDIT_FINGERPRINT_KEY_REF);
  // Stands in for the identity provider: `npm run cli -- operator:token` signs with it.
  Object.assign(env, localOperatorSettings(config, ensureLocalOperatorKey(config.OPERATOR_LOCAL_KEY_FILE)));
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
  // One demo terminal per other provider, each on its sandbox (free ports, re-pointed every start).
  const t = DEMO_PROVIDER_TERMINALS;
  const providerSandboxes = await startProviderSandboxes(
    {
      payroc: { apiKey: secrets[`payroc/${t.payroc}`].apiKey },
      embedded: secrets[`embedded-components/${t['embedded-components']}`] as { gatewayApiKey: string; merchantCentralApiKey: string },
      wallet: secrets[`wallet/${t.wallet}`] as { authToken: string; signingKey: string },
    },
    config.HYP_SANDBOX_HOST,
  );
  for (const [name, terminalNumber] of Object.entries(t) as Array<[keyof typeof t, string]>) {
    const { provider, label, endpointUrl, config: providerConfig } = providerSandboxes.terminals[name];
    await terminals.upsert({ terminalNumber, label, provider, endpointUrl, credentialRef: `${provider}/${terminalNumber}`, providerConfig });
  }
  app.getHttpServer().once('close', () => void sandbox.close());
  app.getHttpServer().once('close', () => void providerSandboxes.close());
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
      `  operator console:     ${base}/console/  (Sign in (development), roles to choose)`,
      `  metrics (Prometheus): ${app.get(MetricsServer).url() ?? 'off (METRICS_PORT=off)'}/metrics`,
      `  Hyp sandbox:          ${sandboxUrl}`,
      `  other sandboxes:      Payroc ${providerSandboxes.payroc.apiUrl} (terminal ${t.payroc}),`,
      `                        embedded components ${providerSandboxes.terminals['embedded-components'].endpointUrl} (terminal ${t['embedded-components']}),`,
      `                        wallet ${providerSandboxes.terminals.wallet.endpointUrl} (terminal ${t.wallet})`,
      `  database:             PGlite in ${config.PGLITE_DATA_DIR}`,
      `  secrets:              ${config.SECRETS_FILE} (generated, development only)`,
      `  bootstrap token:      ${config.BOOTSTRAP_TOKEN_FILE}`,
      `  operator key:         ${config.OPERATOR_LOCAL_KEY_FILE} (local stand-in for the identity provider)`,
      '',
      '  Try it, in another terminal:',
      '    npm run demo        # a POS device enrolls, gets a session and pays with it on the sandbox',
      '    npm run demo -- --provider payroc   # or embedded-components, wallet',
      `    curl -s ${base}/health/ready`,
      '    TOKEN=$(npm run -s cli -- operator:token --roles admin,auditor)',
      `    curl -s -H "Authorization: Bearer $TOKEN" ${base}/v1/admin/terminals`,
      `    open ${base}/docs     # the API (OpenAPI at ${base}/openapi.json)`,
      '',
    ].join('\n'),
  );
}

void main().catch((err: unknown) => {
  process.stderr.write(`failed to start: ${describeStartUpFailure(err)}\n`);
  process.exit(1);
});
