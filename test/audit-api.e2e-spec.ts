import { request } from 'undici';
import { asOwnerBypassingTriggers, seedEvents } from './support/audit-seeding';
import { BrokerHarness, SECOND_TERMINAL, TERMINAL } from './support/broker-harness';

interface Page {
  events: Array<Record<string, unknown> & { id: string; occurredAt: string }>;
  nextCursor: string | null;
  limit: number;
}

const HOUR = 3_600_000;

describe('auditor API over HTTP (Postgres)', () => {
  let h: BrokerHarness;
  let auditor: string;

  async function get(path: string, token: string | undefined = auditor) {
    const res = await request(`${h.baseUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.body.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* export bodies are not JSON */
    }
    return { status: res.statusCode, headers: res.headers, text, body };
  }

  async function allPages(query: string, limit: number, between?: (page: number) => Promise<void>): Promise<Page['events']> {
    const seen: Page['events'] = [];
    let cursor: string | null = null;
    for (let page = 0; ; page++) {
      const res = await get(`/v1/audit/events?${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const body = res.body as unknown as Page;
      seen.push(...body.events);
      cursor = body.nextCursor;
      if (!cursor) return seen;
      await between?.(page);
    }
  }

  beforeAll(async () => {
    // The background sealer runs quickly here, so verify is exercised against it as in production.
    h = await BrokerHarness.start({ AUDIT_SEAL_INTERVAL_MS: '200', AUDIT_SEAL_SETTLE_MS: '100' });
    auditor = h.operatorToken(['auditor'], { subject: 'auditor@example.com' });
  });
  afterAll(() => h?.close());

  describe('access', () => {
    // Three cells in every row: with fewer, jest would hand the test a `done` callback instead.
    const routes: Array<[string, string, unknown]> = [
      ['GET', '/v1/audit/events', null],
      ['GET', '/v1/audit/events/export?format=csv', null],
      ['GET', '/v1/audit/stats', null],
      ['GET', '/v1/audit/verify', null],
      ['GET', '/v1/audit/signing-keys', null],
      ['GET', '/v1/audit/seals', null],
      ['POST', '/v1/audit/sessions/lookup', { sessionId: 'x' }],
    ];

    it.each(routes)('%s %s: 401 without a token, 403 for an admin, 200 for an auditor', async (method, path, body) => {
      const call = (token?: string) =>
        request(`${h.baseUrl}${path}`, {
          method: method as 'GET' | 'POST',
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
      const none = await call();
      expect(none.statusCode).toBe(401);
      expect(none.headers['content-type']).toContain('application/problem+json');
      await none.body.dump();
      const admin = await call(h.operatorToken(['admin']));
      expect(admin.statusCode).toBe(403);
      expect(admin.headers['content-type']).toContain('application/problem+json');
      await admin.body.dump();
      const ok = await call(auditor);
      // The lookup of an unknown sessionId is a 404: past the guard all the same.
      expect([200, 404]).toContain(ok.statusCode);
      await ok.body.dump();
    });

    it('is described in the OpenAPI document, behind the operator bearer scheme', async () => {
      const res = await get('/openapi.json', undefined);
      expect(res.status).toBe(200);
      const paths = res.body.paths as Record<string, Record<string, { security?: unknown; parameters?: Array<{ name: string }> }>>;
      for (const path of ['/v1/audit/events', '/v1/audit/events/export', '/v1/audit/stats', '/v1/audit/verify', '/v1/audit/signing-keys', '/v1/audit/seals']) {
        expect(paths[path].get.security).toEqual([{ bearer: [] }]);
      }
      expect(paths['/v1/audit/sessions/lookup'].post.security).toEqual([{ bearer: [] }]);
      for (const path of ['/v1/audit/seals', '/v1/audit/signing-keys']) {
        const responses = (paths[path].get as unknown as { responses: Record<string, { content?: Record<string, unknown> }> }).responses;
        const problems = path === '/v1/audit/seals' ? ['400', '401', '403', '429'] : ['401', '403', '429'];
        for (const status of problems)
          expect({ path, status, types: Object.keys(responses[status]?.content ?? {}) }).toEqual({ path, status, types: ['application/problem+json'] });
      }
      expect(paths['/v1/audit/seals'].get.parameters?.map((p) => p.name).sort()).toEqual(['from', 'to']);
      expect(paths['/v1/audit/events'].get.parameters?.map((p) => p.name)).toEqual(
        expect.arrayContaining(['from', 'to', 'deviceId', 'terminalNumber', 'action', 'outcome', 'gatewayResult', 'requestId', 'limit', 'cursor']),
      );
    });

    it('records every read as an audit event of the operator (PCI DSS 10.2.1.3)', async () => {
      const res = await get('/v1/audit/events?limit=1');
      const requestId = res.headers['x-request-id'] as string;
      const [event] = await h.auditEvents(requestId);
      expect(event).toMatchObject({ action: 'audit.events.listed', outcome: 'success', actor_id: 'auditor@example.com', request_id: requestId });
    });
  });

  describe('GET /v1/audit/events', () => {
    const base = Date.parse('2026-03-01T00:00:00.000Z');
    const terminal = '0882810001';

    beforeAll(async () => {
      // 300 events, many sharing a millisecond, so pages split inside runs of equal timestamps.
      for (let burst = 0; burst < 30; burst++) {
        await seedEvents(h.db, 10, { start: new Date(base + burst * 1000), stepMs: 0, terminal });
      }
      await seedEvents(h.db, 7, { start: new Date(base + 40_000), terminal, outcome: 'failed', action: 'session.failed', gatewayResult: '457' });
      await seedEvents(h.db, 5, {
        start: new Date(base + 50_000),
        terminal: SECOND_TERMINAL,
        outcome: 'denied',
        action: 'session.denied',
        gatewayResult: null,
      });
    });

    it('pages newest first with no gaps or duplicates while new events keep arriving', async () => {
      const expected = await h.db.query<{ id: string }>(
        'SELECT e.id::text AS id FROM audit_event e WHERE e.terminal_number = $1 ORDER BY e.occurred_at DESC, e.id DESC',
        [terminal],
      );
      const seen = await allPages(`terminalNumber=${terminal}`, 23, async () => {
        // Newer events for the same terminal arrive between pages (and the reads themselves are audited).
        await seedEvents(h.db, 3, { terminal });
      });
      expect(seen.map((e) => e.id)).toEqual(expected.map((r) => r.id));
      expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    });

    it('applies every filter', async () => {
      const failed = await get(`/v1/audit/events?terminalNumber=${terminal}&outcome=failed&gatewayResult=457&action=session.failed`);
      expect((failed.body as unknown as Page).events).toHaveLength(7);
      const denied = await get(`/v1/audit/events?terminalNumber=${SECOND_TERMINAL}&outcome=denied`);
      const events = (denied.body as unknown as Page).events;
      expect(events).toHaveLength(5);
      expect(events[0]).toMatchObject({ action: 'session.denied', terminalNumber: SECOND_TERMINAL, gatewayResult: null, actorType: 'device' });
      const one = events[2];
      const byRequest = await get(`/v1/audit/events?requestId=${String(one.requestId)}`);
      expect((byRequest.body as unknown as Page).events.map((e) => e.id)).toEqual([one.id]);
      const byDevice = await get(`/v1/audit/events?deviceId=${String(one.actorId)}&terminalNumber=${SECOND_TERMINAL}`);
      expect((byDevice.body as unknown as Page).events.every((e) => e.actorId === one.actorId)).toBe(true);
      const range = await get(
        `/v1/audit/events?terminalNumber=${terminal}&from=${new Date(base + 5_000).toISOString()}&to=${new Date(base + 7_000).toISOString()}&limit=500`,
      );
      expect((range.body as unknown as Page).events).toHaveLength(20);
      expect(events[0].scope).toEqual({ command: 'doDeal', validation: 'AutoComm' });
    });

    it.each([
      ['limit above 500', 'limit=501'],
      ['limit 0', 'limit=0'],
      ['an unknown parameter', 'colour=red'],
      ['a repeated parameter', 'outcome=failed&outcome=denied'],
      ['a bad outcome', 'outcome=maybe'],
      ['a date without zone', 'from=2026-03-01T00:00:00'],
      ['from after to', 'from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z'],
      ['a garbage cursor', 'cursor=abc%24%25'],
      ['a forged cursor', `cursor=${Buffer.from('1.1.1.AAAAAAAAAAAA').toString('base64url')}`],
    ])('refuses %s with 400 problem+json', async (_, query) => {
      const res = await get(`/v1/audit/events?${query}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).toMatchObject({ code: 'invalid-request', status: 400 });
    });

    it('refuses a cursor replayed with other filters', async () => {
      const first = await get(`/v1/audit/events?terminalNumber=${terminal}&limit=2`);
      const cursor = (first.body as unknown as Page).nextCursor as string;
      const res = await get(`/v1/audit/events?terminalNumber=${SECOND_TERMINAL}&limit=2&cursor=${cursor}`);
      expect(res.status).toBe(400);
      expect(String(res.body.detail)).toMatch(/other filters/);
    });
  });

  describe('GET /v1/audit/events/export', () => {
    const terminal = '0882810002';
    const start = Date.parse('2026-04-01T00:00:00.000Z');

    beforeAll(async () => {
      await seedEvents(h.db, 100_000, { start: new Date(start), stepMs: 10, terminal });
      await h.db.query(
        `INSERT INTO audit_event (occurred_at, action, outcome, actor_type, terminal_number, request_id, user_agent, reason)
         VALUES ($1, 'session.denied', 'denied', 'device', $2, 'formula', '=HYPERLINK("http://evil.example","x")', '-2+3,"quoted"')`,
        [new Date(start - 1000).toISOString(), terminal],
      );
    }, 60_000);

    it('streams 100k rows as CSV with a download name, newest first, formulas neutralised', async () => {
      const to = new Date(start + 2_000_000).toISOString();
      const res = await request(`${h.baseUrl}/v1/audit/events/export?format=csv&terminalNumber=${terminal}&from=2026-03-31T23:00:00Z&to=${to}`, {
        headers: { authorization: `Bearer ${auditor}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(res.headers['content-disposition']).toBe(`attachment; filename="audit-events-20260331T230000Z-20260401T003320Z.csv"`);
      expect(res.headers['transfer-encoding']).toBe('chunked');
      const text = await res.body.text();
      const lines = text.trimEnd().split('\n');
      expect(lines[0]).toBe(
        'id,occurredAt,action,outcome,reason,actorType,actorId,terminalNumber,scope,requestId,clientIp,userAgent,gatewayResult,gatewayTranId,latencyMs,sessionFingerprint,details',
      );
      expect(lines).toHaveLength(1 + 100_001);
      // Newest first: the seeded events (ascending ids, 10 ms apart) come out in descending id order.
      const ids = lines.slice(1, -1).map((l) => BigInt(l.slice(0, l.indexOf(','))));
      expect(ids.every((id, i) => i === 0 || id < ids[i - 1])).toBe(true);
      expect(new Set(ids).size).toBe(100_000);
      const last = lines[lines.length - 1];
      expect(last).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
      expect(last).toContain(`"'-2+3,""quoted"""`);
    });

    it('streams the same rows as NDJSON', async () => {
      const res = await request(`${h.baseUrl}/v1/audit/events/export?format=ndjson&terminalNumber=${terminal}`, {
        headers: { authorization: `Bearer ${auditor}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="audit-events-beginning-\d{8}T\d{6}Z\.ndjson"$/);
      const lines = (await res.body.text()).trimEnd().split('\n');
      expect(lines).toHaveLength(100_001);
      const first = JSON.parse(lines[0]) as Record<string, unknown>;
      expect(first).toMatchObject({ terminalNumber: terminal, action: 'session.issued', details: { n: 99_999 } });
      expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ requestId: 'formula', userAgent: '=HYPERLINK("http://evil.example","x")' });
    });

    it('stops reading when the client goes away, and keeps serving', async () => {
      const res = await request(`${h.baseUrl}/v1/audit/events/export?format=csv&terminalNumber=${terminal}`, {
        headers: { authorization: `Bearer ${auditor}` },
      });
      for await (const _ of res.body) break;
      const after = await get('/v1/audit/events?limit=1');
      expect(after.status).toBe(200);
      expect(h.logs.text).not.toMatch(/unhandled error/);
    });

    it('validates the format', async () => {
      expect((await get('/v1/audit/events/export')).status).toBe(400);
      expect((await get('/v1/audit/events/export?format=xlsx')).status).toBe(400);
    });
  });

  describe('CSV export in ";" locales', () => {
    it('quotes every text cell, so a ";" inside a cell never opens a new one', async () => {
      await h.db.query(
        `INSERT INTO audit_event (occurred_at, action, outcome, actor_type, actor_id, terminal_number, request_id, user_agent, reason, latency_ms, details)
         VALUES (now(), 'session.denied', 'denied', 'device', 'dev;ice', '0882810009', 'semicolon-cells', 'pos;1.0', 'not;allowed', 12, '{"a": "b;c"}')`,
      );
      const res = await get('/v1/audit/events/export?format=csv&requestId=semicolon-cells');
      expect(res.status).toBe(200);
      const [header, row] = res.text.trimEnd().split('\n');
      expect(header.startsWith('id,occurredAt,action,')).toBe(true);
      // Read as a ";"-separated file (how Excel opens CSV in many European locales): split outside quotes only.
      const cells = splitOutsideQuotes(row, ';');
      expect(cells).toHaveLength(1);
      const byComma = splitOutsideQuotes(row, ',');
      expect(byComma).toHaveLength(17);
      const at = (field: string) => byComma[header.split(',').indexOf(field)];
      expect(at('reason')).toBe('"not;allowed"');
      expect(at('userAgent')).toBe('"pos;1.0"');
      expect(at('actorId')).toBe('"dev;ice"');
      expect(at('action')).toBe('"session.denied"');
      expect(at('details')).toBe('"{""a"": ""b;c""}"');
      // Numbers stay numbers, and an absent value stays an empty cell.
      expect(at('latencyMs')).toBe('12');
      expect(at('id')).toMatch(/^\d+$/);
      expect(at('gatewayResult')).toBe('');
    });

    function splitOutsideQuotes(line: string, separator: string): string[] {
      const cells: string[] = [];
      let cell = '';
      let quoted = false;
      for (const ch of line) {
        if (ch === '"') quoted = !quoted;
        if (ch === separator && !quoted) {
          cells.push(cell);
          cell = '';
        } else cell += ch;
      }
      cells.push(cell);
      return cells;
    }
  });

  describe('GET /v1/audit/stats', () => {
    const terminal = '0882810003';
    const other = '0882810004';
    const t0 = Date.parse('2026-05-01T10:00:00.000Z');

    beforeAll(async () => {
      await seedEvents(h.db, 4, { start: new Date(t0 + 60_000), terminal });
      await seedEvents(h.db, 2, { start: new Date(t0 + 120_000), terminal, outcome: 'failed', action: 'session.failed', gatewayResult: '457' });
      await seedEvents(h.db, 3, { start: new Date(t0 + HOUR + 5_000), terminal });
      await seedEvents(h.db, 5, { start: new Date(t0 + HOUR + 9_000), terminal: other });
    });

    it('counts by hour, outcome and gateway result', async () => {
      const res = await get(`/v1/audit/stats?from=2026-05-01T09:00:00Z&to=2026-05-01T13:00:00Z&terminalNumber=${terminal}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ bucket: 'hour', groupBy: 'overall', from: '2026-05-01T09:00:00.000Z', to: '2026-05-01T13:00:00.000Z' });
      expect(res.body.buckets).toEqual([
        { start: '2026-05-01T10:00:00Z', outcome: 'failed', gatewayResult: '457', count: 2 },
        { start: '2026-05-01T10:00:00Z', outcome: 'issued', gatewayResult: '000', count: 4 },
        { start: '2026-05-01T11:00:00Z', outcome: 'issued', gatewayResult: '000', count: 3 },
      ]);
    });

    it('counts per day and per terminal', async () => {
      const res = await get('/v1/audit/stats?from=2026-05-01T00:00:00Z&to=2026-05-02T00:00:00Z&bucket=day&groupBy=terminal&outcome=issued');
      expect(res.body.buckets).toEqual([
        { start: '2026-05-01T00:00:00Z', terminalNumber: terminal, outcome: 'issued', gatewayResult: '000', count: 7 },
        { start: '2026-05-01T00:00:00Z', terminalNumber: other, outcome: 'issued', gatewayResult: '000', count: 5 },
      ]);
    });

    it('bounds the span of one request', async () => {
      const res = await get('/v1/audit/stats?from=2026-01-01T00:00:00Z&to=2026-05-01T00:00:00Z&bucket=hour');
      expect(res.status).toBe(400);
      expect(String(res.body.detail)).toMatch(/31 days/);
      expect((await get('/v1/audit/stats?bucket=week')).status).toBe(400);
    });
  });

  describe('POST /v1/audit/sessions/lookup', () => {
    it('finds the issuance of a sessionId by its fingerprint, with the sessionId kept out of logs and the trail', async () => {
      const device = await h.enrollDevice();
      const issued = await h.issue(device);
      expect(issued.status).toBe(201);
      const sessionId = issued.body.sessionId as string;

      const res = await h.post('/v1/audit/sessions/lookup', { sessionId }, { authorization: `Bearer ${auditor}` });
      expect(res.status).toBe(200);
      expect(res.body.issuance).toMatchObject({
        action: 'session.issued',
        requestId: issued.body.requestId,
        actorId: device.deviceId,
        terminalNumber: TERMINAL,
      });
      expect((res.body.events as Array<{ action: string }>).map((e) => e.action)).toEqual(['session.requested', 'session.issued']);
      expect(res.text).not.toContain(sessionId);

      const [access] = await h.auditEvents(res.headers['x-request-id'] as string);
      expect(access).toMatchObject({ action: 'audit.session.looked-up', actor_id: 'auditor@example.com' });
      await h.expectNoSecretsLeaked();
    });

    it('answers 404 for a sessionId never issued here, and 400 for a malformed body', async () => {
      const missing = await h.post('/v1/audit/sessions/lookup', { sessionId: 'never-issued' }, { authorization: `Bearer ${auditor}` });
      expect(missing.status).toBe(404);
      expect(missing.headers['content-type']).toContain('application/problem+json');
      const extra = await h.post('/v1/audit/sessions/lookup', { sessionId: 'x', also: 1 }, { authorization: `Bearer ${auditor}` });
      expect(extra.status).toBe(400);
      const empty = await h.post('/v1/audit/sessions/lookup', { sessionId: '' }, { authorization: `Bearer ${auditor}` });
      expect(empty.status).toBe(400);
      expect(h.logs.text).not.toContain('never-issued');
    });
  });

  describe('GET /v1/audit/verify', () => {
    async function sealedEverything(): Promise<void> {
      for (const deadline = Date.now() + 15_000; Date.now() < deadline;) {
        const [row] = await h.db.query<{ unsealed: number }>(
          'SELECT count(*)::int AS unsealed FROM audit_event WHERE id > coalesce((SELECT max(last_event_id) FROM audit_seal), 0)',
        );
        if (row.unsealed === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the background sealer did not catch up');
    }

    it('reports ok over what the background sealer sealed, then catches a deleted and an edited row', async () => {
      const day = Date.parse('2026-07-01T00:00:00.000Z');
      const events = await seedEvents(h.db, 40, { start: new Date(day), terminal: '0882810005' });
      await sealedEverything();
      const ok = await get('/v1/audit/verify');
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ ok: true, unsealedEvents: expect.any(Number), newestSeal: { hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
      expect(Number(ok.body.eventsChecked)).toBeGreaterThanOrEqual(40);

      const [original] = await h.db.query<{ terminal_number: string }>('SELECT terminal_number FROM audit_event WHERE id = $1', [events[5]]);
      await asOwnerBypassingTriggers(h.db, 'audit_event', 'DELETE FROM audit_event WHERE id = $1', [events[30]]);
      await asOwnerBypassingTriggers(h.db, 'audit_event', `UPDATE audit_event SET terminal_number = '0000000000' WHERE id = $1`, [events[5]]);

      const edited = await get('/v1/audit/verify');
      expect(edited.body).toMatchObject({ ok: false, problem: { kind: 'altered-event', eventId: events[5] } });
      const [access] = await h.auditEvents(edited.headers['x-request-id'] as string);
      expect(access).toMatchObject({ action: 'audit.verified', outcome: 'failed' });

      // Put the edited row back exactly: it verifies again, and the deletion is what remains.
      await asOwnerBypassingTriggers(h.db, 'audit_event', 'UPDATE audit_event SET terminal_number = $2 WHERE id = $1', [events[5], original.terminal_number]);
      const deleted = await get('/v1/audit/verify');
      expect(deleted.body).toMatchObject({ ok: false, problem: { kind: 'missing-event', eventId: events[30] } });
    }, 60_000);

    it('validates the range', async () => {
      expect((await get('/v1/audit/verify?from=yesterday')).status).toBe(400);
      expect((await get('/v1/audit/verify?from=2026-07-02T00:00:00Z&to=2026-07-01T00:00:00Z')).status).toBe(400);
    });
  });
});
