import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { ROLES_EXTENSION } from '../src/operators/require-roles.decorator';
import { BrokerHarness } from './support/broker-harness';
import { fastifyRoutes, specOperations } from './support/openapi-routes';
import openApi30Schema from './support/openapi-3.0.schema.json';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, unknown>>;
  components?: { securitySchemes?: Record<string, unknown> };
};

/**
 * Served by the Swagger module itself, or the console's static web app (its files and config.json,
 * registered on Fastify by src/console/console-static.ts): not API operations.
 */
const DOCUMENTATION_ROUTES = /^\/(docs|openapi\.json|console)(\/|\*|$)/;

describe('OpenAPI document', () => {
  let h: BrokerHarness;
  let doc: Doc;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psb-openapi-'));
    // Every optional module on, so every route there can be is served and must be documented.
    h = await BrokerHarness.start({ BOOTSTRAP_ENROLLMENT: 'true', BOOTSTRAP_TOKEN_FILE: join(dir, 'bootstrap-token') });
    const res = await h.send('GET', '/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body as unknown as Doc;
  });

  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a valid OpenAPI 3.0 document (the official schema)', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(openApi30Schema);
    const valid = validate(doc);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    expect(doc.openapi).toMatch(/^3\.0\.\d+$/);
  });

  it('refuses a broken document (the validation can fail)', () => {
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(openApi30Schema);
    const broken = structuredClone<Doc>(doc);
    const first = Object.values(broken.paths)[0] as Record<string, { responses?: unknown }>;
    delete Object.values(first)[0].responses;
    expect(validate(broken)).toBe(false);
  });

  it('documents every route the server serves, and nothing it does not', () => {
    const served = fastifyRoutes(h.app.getHttpAdapter().getInstance())
      .filter((r) => !DOCUMENTATION_ROUTES.test(r.path))
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    const documented = specOperations(doc)
      .map((o) => `${o.method} ${o.path}`)
      .sort();
    // Sanity: the route reading works (device, admin, health and bootstrap routes are there).
    expect(served).toEqual(expect.arrayContaining(['post /v1/sessions', 'get /v1/admin/devices', 'get /health/ready', 'post /v1/bootstrap/devices']));
    expect(documented).toEqual(served);
  });

  it('declares every path parameter, with a summary and responses on every operation', () => {
    for (const { path, method, operation } of specOperations(doc)) {
      const declared = ((operation.parameters ?? []) as Array<{ in: string; name: string; required?: boolean }>)
        .filter((p) => p.in === 'path')
        .map((p) => `${p.name}:${p.required}`)
        .sort();
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => `${m[1]}:true`).sort();
      expect({ route: `${method} ${path}`, params: declared }).toEqual({ route: `${method} ${path}`, params: inTemplate });
      expect({ route: `${method} ${path}`, summary: typeof operation.summary }).toEqual({ route: `${method} ${path}`, summary: 'string' });
      expect(Object.keys(operation.responses as object).length).toBeGreaterThan(0);
    }
  });

  it('marks how each route authenticates: operator routes with bearer and their roles, the device route with device-jwt', () => {
    const schemes = Object.keys(doc.components?.securitySchemes ?? {});
    expect(schemes).toEqual(expect.arrayContaining(['bearer', 'device-jwt']));
    for (const { path, method, operation } of specOperations(doc)) {
      const security = JSON.stringify(operation.security ?? []);
      const route = `${method} ${path}`;
      if (/^\/v1\/(admin|audit)\//.test(path)) {
        expect({ route, security }).toEqual({ route, security: '[{"bearer":[]}]' });
        expect({ route, roles: Array.isArray(operation[ROLES_EXTENSION]) }).toEqual({ route, roles: true });
      }
      if (path === '/v1/sessions') expect(security).toBe('[{"device-jwt":[]}]');
    }
  });

  it('serves the Swagger UI at /docs', async () => {
    const res = await h.send('GET', '/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('swagger-ui');
  });
});
