import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.schema';
import { NotFoundError, DependencyUnavailableError } from '../common/errors';
import { PROBLEM_CONTENT_TYPE, toProblem } from '../http/problem-details';
import { STYLE_NONCE_PLACEHOLDER, consoleCsp, consoleSignIn, consoleStyleNonce } from './console-settings';

export const CONSOLE_PREFIX = '/console';

/**
 * The console's static files under /console/, in a Fastify context of their own so the strict
 * security headers (CSP, frame-ancestors 'none', no referrer) apply to the console's responses and
 * leave the JSON API's headers as they were. Paths without a file extension are the app's own
 * routes (/console/audit?…): they get index.html, so a shared link opens the same view. index.html
 * is never served as the file: each response carries the style nonce of its own CSP header.
 */
export function registerConsoleStatic(fastify: FastifyInstance, c: Config): void {
  const root = resolve(c.CONSOLE_DIST_DIR);
  fastify.get(CONSOLE_PREFIX, (_req, reply) => reply.redirect(`${CONSOLE_PREFIX}/`, 308));
  const styleNonce = consoleStyleNonce();
  void fastify.register(
    async (instance) => {
      await instance.register(helmet, {
        contentSecurityPolicy: { useDefaults: false, directives: consoleCsp(c, styleNonce) },
        referrerPolicy: { policy: 'no-referrer' },
        frameguard: { action: 'deny' },
        crossOriginEmbedderPolicy: false,
      });
      instance.get('/config.json', (_req, reply) => reply.header('cache-control', 'no-store').send(consoleSignIn(c)));
      const built = existsSync(join(root, 'index.html'));
      const sendIndex = async (reply: FastifyReply) => {
        // Read per request (a few hundred bytes): a rebuilt console is served without a restart.
        const html = (await readFile(join(root, 'index.html'), 'utf8')).replaceAll(STYLE_NONCE_PLACEHOLDER, styleNonce(reply.raw));
        return reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(html);
      };
      if (built) {
        instance.route({ method: ['GET', 'HEAD'], url: '/', prefixTrailingSlash: 'slash', handler: (_req, reply) => sendIndex(reply) });
        await instance.register(fastifyStatic, {
          root,
          prefix: '/',
          index: false,
          allowedPath: (path) => path !== '/index.html',
          // Vite names assets by content hash: cached for good; index.html always fresh.
          cacheControl: false,
          setHeaders: (reply, path) => {
            void reply.header('cache-control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-store');
          },
        });
      }
      instance.setNotFoundHandler(async (request: FastifyRequest, reply: FastifyReply) => {
        const path = request.url.split('?')[0];
        const appRoute = (request.method === 'GET' || request.method === 'HEAD') && (!/\.[A-Za-z0-9]+$/.test(path) || path === `${CONSOLE_PREFIX}/index.html`);
        if (!appRoute) return problem(request, reply, new NotFoundError(`No console file at ${path}.`));
        if (!built) {
          return problem(request, reply, new DependencyUnavailableError('The console is not built: run `npm run console:build`, then reload.', 30));
        }
        return sendIndex(reply);
      });
    },
    { prefix: CONSOLE_PREFIX },
  );
}

function problem(request: FastifyRequest, reply: FastifyReply, error: Error): FastifyReply {
  const { body } = toProblem(error, request.id);
  return reply.status(body.status).header('content-type', PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}
