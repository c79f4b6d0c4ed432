import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * 16 URL-safe characters: unique enough to join our logs, the audit trail and the gateway's own
 * logs (Hyp's requestId takes at most 20 characters). Stored on the raw request so pino-http
 * logs the same id Fastify and the handlers use.
 */
export function generateRequestId(raw: IncomingMessage): string {
  const id = randomBytes(12).toString('base64url');
  (raw as IncomingMessage & { id?: string }).id = id;
  return id;
}
