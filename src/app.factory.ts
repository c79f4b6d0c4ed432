import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule, AppOptions } from './app.module';
import { generateRequestId } from './http/request-id';
import { setupOpenApi } from './http/swagger';

/** Bodies larger than this are refused with 413 before any parsing. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** Builds the HTTP application (not yet listening); main.ts, the embedded runner and e2e tests share it. */
export async function createApp(options: AppOptions = {}): Promise<NestFastifyApplication> {
  const env = options.env ?? process.env;
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: generateRequestId,
    trustProxy: env.TRUST_PROXY === 'true',
    return503OnClosing: true,
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
  fastify.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  setupOpenApi(app);
  return app;
}
