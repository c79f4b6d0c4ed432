import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

/**
 * Every response the e2e tests observe from a harness broker, recorded so that
 * test/openapi-conformance.e2e-spec.ts can check each (operation, status, media type, body)
 * against the OpenAPI document. One file per jest process (with --runInBand: per test run).
 */
export interface ObservedResponse {
  method: string;
  /** The route pattern Fastify matched, in OpenAPI form (/v1/admin/devices/{deviceId}); null: no route. */
  route: string | null;
  status: number;
  contentType: string | null;
  /** The parsed JSON body; null for streams, empty and non-JSON bodies. */
  body: unknown;
  testPath: string | null;
}

/** OPENAPI_OBSERVED_FILE shares one file across jest runs (record with one, check with the next). */
export const OBSERVED_FILE = process.env.OPENAPI_OBSERVED_FILE ?? join(tmpdir(), 'psb-observed-responses', `${process.pid}.ndjson`);
const DIR = dirname(OBSERVED_FILE);

function testPath(): string | null {
  const state = (globalThis as { expect?: { getState?: () => { testPath?: string } } }).expect?.getState?.();
  return state?.testPath ?? null;
}

/** Adds the recording hook; call before the instance listens. */
export function recordResponses(fastify: FastifyInstance): void {
  mkdirSync(DIR, { recursive: true, mode: 0o700 });
  fastify.addHook('onSend', async (request, reply, payload) => {
    const pattern = request.routeOptions.url;
    const contentType = reply.getHeader('content-type');
    let body: unknown = null;
    if (typeof payload === 'string' && /json/.test(String(contentType ?? ''))) {
      try {
        body = JSON.parse(payload);
      } catch {
        body = null;
      }
    }
    const record: ObservedResponse = {
      method: request.method.toLowerCase(),
      route: pattern === undefined ? null : pattern.replace(/:([A-Za-z0-9_]+)/g, '{$1}'),
      status: reply.statusCode,
      contentType: contentType === undefined ? null : String(contentType),
      body,
      testPath: testPath(),
    };
    // Test-only file (0600) in the temp dir: sandbox sessions are fake, but nothing else may read it.
    appendFileSync(OBSERVED_FILE, JSON.stringify(record) + '\n', { mode: 0o600 });
    return payload;
  });
}

export function readObservedResponses(): ObservedResponse[] {
  if (!existsSync(OBSERVED_FILE)) return [];
  return readFileSync(OBSERVED_FILE, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ObservedResponse);
}
