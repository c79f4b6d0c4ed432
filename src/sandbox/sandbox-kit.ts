import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Faults every JSON sandbox can inject (the Hyp sandbox has its own, older set). */
export interface SandboxFaults {
  readonly latencyMs?: number;
  /** HTTP 500 with the provider's documented error body. */
  readonly http500?: boolean;
  /** A 2xx answer whose JSON is cut off. */
  readonly malformedBody?: boolean;
  readonly dropConnection?: boolean;
  /** This many requests get HTTP 503 first, then service resumes (retries succeed). */
  readonly failNext?: number;
}

/**
 * Applies latency, drops, failNext and 500s before the handler; answers true when it has
 * answered (or dropped) the request itself. `closing` aborts latency sleeps at shutdown.
 */
export async function applyFaults(
  faults: { current: SandboxFaults },
  request: FastifyRequest,
  reply: FastifyReply,
  closing: AbortSignal,
  errorBody: (status: number) => object,
): Promise<boolean> {
  const f = faults.current;
  const drop = () => {
    reply.hijack();
    request.raw.socket.destroy();
    return true;
  };
  if (f.dropConnection) return drop();
  if (f.latencyMs && f.latencyMs > 0) {
    const slept = await sleep(f.latencyMs, true, { signal: closing }).catch(() => false);
    if (!slept) return drop();
  }
  if (f.failNext && f.failNext > 0) {
    faults.current = { ...f, failNext: f.failNext - 1 };
    await reply
      .code(503)
      .type('application/json')
      .send(JSON.stringify(errorBody(503)));
    return true;
  }
  if (f.http500) {
    await reply
      .code(500)
      .type('application/json')
      .send(JSON.stringify(errorBody(500)));
    return true;
  }
  return false;
}

/** The first part of a JSON body, as a connection cut mid-answer leaves it. */
export function truncatedJson(value: object): string {
  const text = JSON.stringify(value);
  return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
}

export async function listenOn(app: FastifyInstance, port: number, host: string): Promise<string> {
  await app.listen({ port, host });
  const { port: actual } = app.server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
}

/** A secret compared in constant time, as the real services compare API keys and passwords (absent: no match). */
export function sameSecret(given: string | undefined, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return given !== undefined && timingSafeEqual(digest(given), digest(expected));
}
