import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule, AppOptions } from './app.module';
import { validateConfig } from './config/config.schema';
import { installJsonBodyParser } from './http/json-body';
import { installRequestLog, rememberLoggedUrl } from './http/logging';
import { generateRequestId } from './http/request-id';
import { setupOpenApi } from './http/swagger';
import { installRequestContext } from './http/request-context';

/** Bodies larger than this are refused with 413 before any parsing. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** Builds the HTTP application (not yet listening); main.ts, the embedded runner and e2e tests share it. */
export async function createApp(options: AppOptions = {}): Promise<NestFastifyApplication> {
  const config = validateConfig(options.env ?? process.env);
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: generateRequestId,
    // Only the listed proxies' X-Forwarded-For is believed (request.ip, the audit's client_ip and
    // the per-IP limits); `true` would take the address any client writes there.
    trustProxy: config.TRUSTED_PROXIES.length > 0 ? [...config.TRUSTED_PROXIES] : false,
    return503OnClosing: true,
    // No Nest middleware runs in this application (the request line is a Fastify hook, see
    // logging.ts): without @fastify/middie, no request pays for its onRequest hook and URL parsing.
    skipMiddie: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(options), adapter, {
    bufferLogs: true,
    abortOnError: false,
    // Fastify's own JSON parser only: Nest would add form-urlencoded, and the API takes JSON alone.
    bodyParser: false,
  });
  const logger = app.get(Logger);
  app.useLogger(logger);
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser('text/plain');
  installRequestContext(fastify);
  installJsonBodyParser(fastify);
  // Routed by now: the log line's URL comes from the route pattern, secrets in parameters blanked.
  fastify.addHook('onRequest', (request, _reply, done) => {
    rememberLoggedUrl(request);
    done();
  });
  // The one log line per request (Fastify's hook, not pino-http through middleware: see logging.ts).
  installRequestLog(fastify);
  // Callback style: an async hook costs every response a promise.
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    done(null, payload);
  });
  setupOpenApi(app);
  return app;
}
