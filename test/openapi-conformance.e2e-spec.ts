import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { BrokerHarness, TERMINAL, WALLET_TERMINAL, type TestDevice } from './support/broker-harness';
import { readObservedResponses, type ObservedResponse } from './support/observed-responses';

type Schema = Record<string, unknown>;
type MediaTypes = Record<string, { schema?: Schema }>;
type Operation = { responses: Record<string, { content?: MediaTypes }> };
type Doc = { paths: Record<string, Record<string, Operation>>; components?: Record<string, unknown> };

/**
 * The OpenAPI document against what the broker really answers: every response the e2e tests
 * observe (recorded by the harness, test/support/observed-responses.ts; with --runInBand the whole
 * suite's), plus a request per operation and per status here, must be declared by its operation,
 * with that media type, and the body must validate against the declared schema.
 */
describe('OpenAPI conformance: every observed response is documented', () => {
  let h: BrokerHarness;
  let doc: Doc;
  let dir: string;
  let bootstrapToken: string;
  const admin = () => ({ authorization: `Bearer ${h.operatorToken(['admin'])}` });
  const auditor = () => ({ authorization: `Bearer ${h.operatorToken(['auditor'])}` });
  const startedAt = new Date().toISOString();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psb-conformance-'));
    const tokenFile = join(dir, 'bootstrap-token');
    h = await BrokerHarness.start({ BOOTSTRAP_ENROLLMENT: 'true', BOOTSTRAP_TOKEN_FILE: tokenFile, OPERATOR_RATE_LIMIT_PER_MINUTE: '40' });
    bootstrapToken = readFileSync(tokenFile, 'utf8').trim();
    const res = await h.send('GET', '/openapi.json');
    if (res.status !== 200)
      throw new Error(
        `GET /openapi.json: ${res.status} ${res.text} ${h.logs.text.slice(h.logs.text.indexOf(`"stack"`), h.logs.text.indexOf(`"stack"`) + 500)}`,
      );
    doc = res.body as unknown as Doc;
  });

  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const jwk = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const POLICY = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] };

  /** Success and the errors a client must handle, on every kind of operation. */
  async function exercise(): Promise<void> {
    const device: TestDevice = await h.enrollDevice(POLICY, [TERMINAL]);
    const walletDevice: TestDevice = await h.enrollDevice({ allowUnscoped: true, allowed: [] }, [WALLET_TERMINAL]);
    // Device routes.
    await h.issue(device);
    await h.issue(device, { terminalNumber: TERMINAL, scope: { command: 'nope' } });
    await h.issue(device, { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Debit' } });
    await h.post('/v1/sessions', {}, {});
    await h.post('/v1/sessions', 'terminalNumber=1', { authorization: `Bearer ${device.jwt()}`, 'content-type': 'text/plain' }, true);
    await h.post('/v1/sessions', { terminalNumber: TERMINAL, pad: 'x'.repeat(20_000) }, { authorization: `Bearer ${device.jwt()}` });
    const wallet = await h.post(
      '/v1/sessions',
      { terminalNumber: WALLET_TERMINAL, scope: { walletId: 'w-0002' } },
      { authorization: `Bearer ${walletDevice.jwt()}` },
    );
    if (typeof wallet.body.sessionId === 'string') {
      await h.send('DELETE', `/v1/sessions/${encodeURIComponent(wallet.body.sessionId)}`, undefined, { authorization: `Bearer ${walletDevice.jwt()}` });
    }
    await h.send('DELETE', '/v1/sessions/not-ours', undefined, { authorization: `Bearer ${walletDevice.jwt()}` });
    await h.send('DELETE', '/v1/sessions/x', undefined, {});
    // Admin: devices.
    const created = await h.send('POST', '/v1/admin/devices', { name: 'conformance', publicKey: jwk(), terminalNumbers: [TERMINAL], policy: POLICY }, admin());
    const id = String(created.body.id);
    await h.send('POST', '/v1/admin/devices', { name: 'x' }, admin());
    await h.send('POST', '/v1/admin/devices', { name: 'x' }, auditor());
    await h.post('/v1/admin/devices', 'name=x', { ...admin(), 'content-type': 'text/plain' }, true);
    await h.post('/v1/enrollments', 'code=x', { 'content-type': 'text/plain' }, true);
    await h.send('GET', '/v1/admin/devices?limit=2', undefined, auditor());
    await h.send('GET', '/v1/admin/devices?limit=nope', undefined, admin());
    await h.send('GET', '/v1/admin/devices', undefined, {});
    await h.send('GET', `/v1/admin/devices/${id}`, undefined, admin());
    await h.send('GET', `/v1/admin/devices/${randomUUID()}`, undefined, admin());
    await h.send('GET', '/v1/admin/devices/not-a-uuid', undefined, admin());
    await h.send('PATCH', `/v1/admin/devices/${id}`, { name: 'renamed' }, admin());
    await h.send('PATCH', `/v1/admin/devices/${id}`, {}, admin());
    await h.send('POST', `/v1/admin/devices/${id}/keys`, { publicKey: jwk(), graceSeconds: 0 }, admin());
    await h.send('POST', `/v1/admin/devices/${id}/disable`, undefined, admin());
    await h.send('POST', `/v1/admin/devices/${id}/enable`, undefined, admin());
    await h.send('POST', `/v1/admin/devices/${id}/revoke`, undefined, admin());
    await h.send('POST', `/v1/admin/devices/${id}/enable`, undefined, admin());
    // Admin: terminals.
    await h.send(
      'POST',
      '/v1/admin/terminals',
      { terminalNumber: '0882819099', label: 'Conformance', endpointUrl: h.sandboxUrl, credentialRef: 'hyp/0882819099' },
      admin(),
    );
    await h.send(
      'POST',
      '/v1/admin/terminals',
      { terminalNumber: '0882819099', label: 'Conformance', endpointUrl: h.sandboxUrl, credentialRef: 'hyp/0882819099' },
      admin(),
    );
    await h.send('POST', '/v1/admin/terminals', { terminalNumber: '12' }, admin());
    await h.send('GET', '/v1/admin/terminals', undefined, auditor());
    await h.send('GET', `/v1/admin/terminals/${TERMINAL}`, undefined, auditor());
    await h.send('GET', '/v1/admin/terminals/0000000000', undefined, auditor());
    await h.send('GET', '/v1/admin/terminals/12', undefined, auditor());
    await h.send('PATCH', '/v1/admin/terminals/0882819099', { label: 'Conformance 2' }, admin());
    await h.send('POST', '/v1/admin/terminals/0882819099/disable', undefined, admin());
    await h.send('POST', '/v1/admin/terminals/0882819099/enable', undefined, admin());
    // Enrollment codes and redemption.
    const code = await h.send('POST', '/v1/admin/enrollment-codes', { terminalNumbers: [TERMINAL], policy: POLICY }, admin());
    if (typeof code.body.code === 'string') h.secretsSeen.add(code.body.code);
    await h.send('POST', '/v1/admin/enrollment-codes', { terminalNumbers: [] }, admin());
    await h.send('GET', '/v1/admin/enrollment-codes', undefined, auditor());
    await h.send('POST', '/v1/enrollments', { code: code.body.code, publicKey: jwk(), name: 'by-code' });
    await h.send('POST', '/v1/enrollments', { code: code.body.code, publicKey: jwk(), name: 'again' });
    await h.send('POST', '/v1/enrollments', { nope: true });
    await h.send('DELETE', `/v1/admin/enrollment-codes/${String(code.body.id)}`, undefined, admin());
    await h.send('DELETE', `/v1/admin/enrollment-codes/${randomUUID()}`, undefined, admin());
    await h.send('DELETE', '/v1/admin/enrollment-codes/nope', undefined, admin());
    // Bootstrap.
    await h.send(
      'POST',
      '/v1/bootstrap/devices',
      { name: 'boot', publicKey: jwk(), terminalNumbers: [TERMINAL], policy: POLICY },
      { authorization: `Bearer ${bootstrapToken}` },
    );
    await h.send('POST', '/v1/bootstrap/devices', { name: 'boot', publicKey: jwk(), terminalNumbers: [TERMINAL], policy: POLICY }, {});
    await h.send('POST', '/v1/bootstrap/devices', { name: 'boot' }, { authorization: `Bearer ${bootstrapToken}` });
    // Audit.
    await h.send('GET', '/v1/audit/events?limit=2', undefined, auditor());
    await h.send('GET', `/v1/audit/events?limit=1&from=${startedAt}&terminalNumber=${TERMINAL}`, undefined, auditor());
    await h.send('GET', '/v1/audit/events?limit=0', undefined, auditor());
    await h.send('GET', '/v1/audit/events?cursor=bogus', undefined, auditor());
    await h.send('GET', '/v1/audit/events', undefined, admin());
    await h.send('GET', '/v1/audit/events', undefined, {});
    await h.send('GET', '/v1/audit/events/export?format=csv', undefined, auditor());
    await h.send('GET', '/v1/audit/events/export?format=ndjson', undefined, auditor());
    await h.send('GET', '/v1/audit/events/export?format=xml', undefined, auditor());
    await h.send('GET', '/v1/audit/stats', undefined, auditor());
    await h.send('GET', '/v1/audit/stats?bucket=year', undefined, auditor());
    await h.send('POST', '/v1/audit/sessions/lookup', { sessionId: 'unknown-session' }, auditor());
    await h.send('POST', '/v1/audit/sessions/lookup', {}, auditor());
    await h.send('GET', '/v1/audit/signing-keys', undefined, auditor());
    await h.send('GET', '/v1/audit/seals', undefined, auditor());
    await h.send('GET', '/v1/audit/seals?from=yesterday', undefined, auditor());
    await h.send('GET', '/v1/audit/verify', undefined, auditor());
    await h.send('GET', '/v1/audit/verify?to=2020-01-01T00:00:00Z&from=2021-01-01T00:00:00Z', undefined, auditor());
    // Health.
    await h.send('GET', '/health/live');
    await h.send('GET', '/health/ready');
    // One operator over the limit (OPERATOR_RATE_LIMIT_PER_MINUTE above): the 429 of each audit route.
    const limited = { authorization: `Bearer ${h.operatorToken(['auditor'], { subject: 'flood@example.com' })}` };
    for (let i = 0; i < 40; i++) await h.send('GET', '/v1/audit/signing-keys', undefined, limited);
    for (const path of [
      '/v1/audit/events',
      '/v1/audit/events/export?format=csv',
      '/v1/audit/stats',
      '/v1/audit/signing-keys',
      '/v1/audit/seals',
      '/v1/audit/verify',
    ]) {
      await h.send('GET', path, undefined, limited);
    }
    await h.send('POST', '/v1/audit/sessions/lookup', { sessionId: 'x' }, limited);
  }

  /**
   * OpenAPI 3.0's `nullable` beside `allOf` (how a nullable reference is written) has no `type`,
   * which Ajv's own `nullable` support requires: spelled as JSON Schema's "or null" instead.
   */
  function forAjv(node: unknown): unknown {
    if (Array.isArray(node)) return node.map(forAjv);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node as Record<string, unknown>).map(([k, v]) => [k, forAjv(v)] as const);
    const copy = Object.fromEntries(entries) as Record<string, unknown>;
    if (copy.nullable === true && copy.type === undefined) {
      const { nullable: _nullable, description, ...rest } = copy;
      return { description, anyOf: [rest, { type: 'null' }] };
    }
    return copy;
  }

  function operationOf(doc: Doc, r: ObservedResponse): Operation | undefined {
    return r.route === null ? undefined : doc.paths[r.route]?.[r.method];
  }

  it('declares every status, media type and body schema the broker answers with', async () => {
    await exercise();
    const observed = readObservedResponses();
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const wrong = new Set<string>();
    const seen = new Set<string>();
    for (const r of observed) {
      const operation = operationOf(doc, r);
      // Not an API operation (documentation, console files, unmatched URLs): not in the document by design.
      if (operation === undefined) continue;
      const where = `${r.method.toUpperCase()} ${r.route} ${r.status}`;
      seen.add(`${r.method} ${r.route}`);
      const declared = operation.responses[String(r.status)] ?? operation.responses.default;
      if (declared === undefined) {
        wrong.add(`${where}: status not documented (${r.testPath ?? '?'})`);
        continue;
      }
      const mediaType = (r.contentType ?? '').split(';')[0].trim();
      if (declared.content === undefined) {
        if (mediaType !== '' && r.status !== 204) wrong.add(`${where}: answers ${mediaType}, the document declares no body`);
        continue;
      }
      const media = declared.content[mediaType];
      if (media === undefined) {
        wrong.add(`${where}: answers ${mediaType}, the document declares ${Object.keys(declared.content).join(', ')}`);
        continue;
      }
      if (media.schema === undefined || Object.keys(media.schema).length === 0) {
        wrong.add(`${where} ${mediaType}: no schema`);
        continue;
      }
      if (r.body === null) continue;
      const validate = ajv.compile(forAjv({ allOf: [media.schema], components: doc.components }) as Schema);
      if (!validate(r.body)) wrong.add(`${where}: body does not match the schema: ${ajv.errorsText(validate.errors)}`);
    }
    expect([...wrong].sort()).toEqual([]);
    // The exercise reached every documented operation.
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`));
    expect(documented.filter((o) => !seen.has(o))).toEqual([]);
  });

  it('gives each operation real schemas for its parameters, and a schema for every success body', () => {
    const wrong: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item) as Array<[string, Operation & { parameters?: Array<{ name: string; schema?: Schema }> }]>) {
        for (const p of op.parameters ?? []) {
          if (p.schema === undefined || Object.keys(p.schema).length === 0) wrong.push(`${method} ${path} ?${p.name}: empty schema`);
        }
        for (const [status, response] of Object.entries(op.responses)) {
          for (const [type, media] of Object.entries(response.content ?? {})) {
            if (media.schema === undefined || Object.keys(media.schema).length === 0) wrong.push(`${method} ${path} ${status} ${type}: no schema`);
            // Readiness answers terminus's JSON on 503 too (per dependency), as load balancers expect.
            if (Number(status) >= 400 && type !== 'application/problem+json' && path !== '/health/ready')
              wrong.push(`${method} ${path} ${status}: ${type}, not problem+json`);
          }
          if (status === '200' || status === '201') {
            if (response.content === undefined) wrong.push(`${method} ${path} ${status}: no body documented`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('marks the bootstrap route with its own token scheme, not the operator bearer scheme', () => {
    const op = doc.paths['/v1/bootstrap/devices'].post as unknown as { security?: unknown; responses: Record<string, unknown> };
    expect(JSON.stringify(op.security)).not.toContain('"bearer"');
    expect(op.responses['201']).toBeDefined();
  });

  it('describes scope as each provider’s allowed values, not an open object', () => {
    const schemas = (doc.components as { schemas: Record<string, { properties: Record<string, { anyOf?: Array<{ title: string; properties: object }> }> }> })
      .schemas;
    const scope = schemas.SessionRequestBody.properties.scope;
    expect((scope.anyOf ?? []).map((s) => s.title)).toEqual(['hyp scope', 'payroc scope', 'embedded-components scope', 'wallet scope']);
    expect(JSON.stringify(scope.anyOf)).toContain('walletId');
    const responses = doc.paths['/v1/sessions'].post.responses;
    expect(Object.keys(responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '413', '415', '429']));
  });
});
