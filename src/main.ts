import 'reflect-metadata';
import { config as loadDotenv } from 'dotenv';
import { Logger } from 'nestjs-pino';
import { createApp } from './app.factory';
import { exitGracefullyOnSignals } from './lifecycle/graceful-shutdown';
import { assertPortFree, describeStartUpFailure } from './lifecycle/start-up';
import { validateConfig } from './config/config.schema';

/** Production entry point: configuration from the environment (and .env when present). */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  let config;
  try {
    config = validateConfig(process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(78); // EX_CONFIG
  }
  try {
    await assertPortFree(config.PORT, config.HOST, 'PORT');
    const app = await createApp();
    const logger = app.get(Logger);
    exitGracefullyOnSignals(app, config.SHUTDOWN_TIMEOUT_MS, (m) => logger.log(m, 'Shutdown'));
    await app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    process.stderr.write(`failed to start: ${describeStartUpFailure(err, config)}\n`);
    process.exit(1);
  }
}

void main();
