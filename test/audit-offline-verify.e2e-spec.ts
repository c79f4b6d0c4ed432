import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runAuditVerifyExport } from '../src/audit/seal/offline-verifier';
import { asOwnerBypassingTriggers, seedEvents } from './support/audit-seeding';
import { BrokerHarness, type TestDevice } from './support/broker-harness';

interface SealLine {
  seq: string;
  firstEventId: string;
  lastEventId: string;
  eventCount: number;
  gaps: Array<[string, string]>;
  hash: string;
  signature: string;
  kid: string;
  [field: string]: unknown;
}

/**
 * The auditor's path end to end: sessions issued over HTTP, sealed by the background sealer, the
 * events, seals and keys downloaded over HTTP into files, then the CLI command's own entry function
 * (argument parsing included) run on them, with no broker, database or secret involved.
 */
describe('npm run cli -- audit:verify-export (offline)', () => {
  let h: BrokerHarness;
  let device: TestDevice;
  let dir: string;
  let clean: { events: string[]; seals: SealLine[]; keys: string };
  let gapId: string;

  async function download(path: string, file: string): Promise<string> {
    const auditor = h.operatorToken(['auditor'], { subject: 'auditor@example.com' });
    const res = await request(`${h.baseUrl}${path}`, { headers: { authorization: `Bearer ${auditor}` } });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    writeFileSync(join(dir, file), text);
    return text;
  }

  async function sealedEverything(): Promise<void> {
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      const [row] = await h.db.query<{ unsealed: number }>(
        'SELECT count(*)::int AS unsealed FROM audit_event WHERE id > coalesce((SELECT max(last_event_id) FROM audit_seal), 0)',
      );
      if (row.unsealed === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the background sealer did not catch up');
  }

  /** Writes the (edited) inputs to a case's own files and runs the command as the CLI would. */
  function run(name: string, input: { events?: string[]; seals?: SealLine[]; keys?: string } = {}) {
    const events = join(dir, `${name}.events.ndjson`);
    const seals = join(dir, `${name}.seals.ndjson`);
    const keys = join(dir, `${name}.jwks.json`);
    writeFileSync(events, (input.events ?? clean.events).map((l) => `${l}\n`).join(''));
    writeFileSync(seals, (input.seals ?? clean.seals).map((s) => `${JSON.stringify(s)}\n`).join(''));
    writeFileSync(keys, input.keys ?? clean.keys);
    return runAuditVerifyExport(['--events', events, '--seals', seals, '--keys', keys]);
  }

  const idOf = (line: string) => (JSON.parse(line) as { id: string }).id;
  /** An event seal `seq` covers. */
  function sealedEvent(seq: string): { index: number; id: string } {
    const seal = clean.seals.find((s) => s.seq === seq)!;
    const index = clean.events.findIndex((l) => {
      const id = BigInt(idOf(l));
      return id >= BigInt(seal.firstEventId) && id <= BigInt(seal.lastEventId) && !seal.gaps.some(([a, b]) => id >= BigInt(a) && id <= BigInt(b));
    });
    return { index, id: idOf(clean.events[index]) };
  }

  beforeAll(async () => {
    h = await BrokerHarness.start({ AUDIT_SEAL_INTERVAL_MS: '200', AUDIT_SEAL_SETTLE_MS: '100', AUDIT_SEAL_MAX_EVENTS: '8' });
    device = await h.enrollDevice();
    dir = mkdtempSync(join(tmpdir(), 'psb-verify-'));
    for (let i = 0; i < 6; i++) expect((await h.issue(device)).status).toBe(201);
    // A rolled-back insert leaves ids no event holds: the seal records them as a gap.
    await h.db.query('BEGIN');
    [gapId] = await seedEvents(h.db, 2);
    await h.db.query('ROLLBACK');
    for (let i = 0; i < 6; i++) expect((await h.issue(device)).status).toBe(201);
    await sealedEverything();

    // Seals first, then keys, then events: every sealed event is in the later events export.
    const seals = await download('/v1/audit/seals', 'seals.ndjson');
    const keys = await download('/v1/audit/signing-keys', 'jwks.json');
    const events = await download('/v1/audit/events/export?format=ndjson', 'events.ndjson');
    clean = {
      events: events.split('\n').filter((l) => l !== ''),
      seals: seals
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as SealLine),
      keys,
    };
    expect(clean.seals.length).toBeGreaterThanOrEqual(4);
    expect(clean.seals.some((s) => s.gaps.some(([a, b]) => BigInt(a) <= BigInt(gapId) && BigInt(gapId) <= BigInt(b)))).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 with a one-line summary when the export matches the signed chain', async () => {
    const result = await runAuditVerifyExport(['--events', join(dir, 'events.ndjson'), '--seals', join(dir, 'seals.ndjson'), '--keys', join(dir, 'jwks.json')]);
    const last = clean.seals[clean.seals.length - 1];
    const sealed = clean.seals.reduce((n, s) => n + s.eventCount, 0);
    expect(result.exitCode).toBe(0);
    expect(result.output).not.toContain('\n');
    expect(result.output).toMatch(new RegExp(`^OK: ${sealed} events match seals 1\\.\\.${last.seq} from genesis, signed by 1 key \\(${clean.seals[0].kid}\\)`));
    expect(result.output).toContain(last.hash);
  });

  it('exits 1 naming an event altered in the file', async () => {
    const { index, id } = sealedEvent('2');
    const events = [...clean.events];
    const altered = JSON.parse(events[index]) as Record<string, unknown>;
    altered.outcome = altered.outcome === 'denied' ? 'issued' : 'denied';
    events[index] = JSON.stringify(altered);
    const result = await run('altered', { events });
    expect(result).toEqual({ exitCode: 1, output: `FAILED: altered-event event ${id} in seal 2: The event differs from what was sealed.` });
  });

  it('exits 1 naming an event deleted from the file', async () => {
    const { index, id } = sealedEvent('3');
    const result = await run('deleted', { events: clean.events.filter((_, i) => i !== index) });
    expect(result).toEqual({ exitCode: 1, output: `FAILED: missing-event event ${id} in seal 3: A sealed event is gone.` });
  });

  it('exits 1 naming an extra event: in a sealed gap, or a second copy of a sealed id', async () => {
    const { index } = sealedEvent('1');
    const forged = { ...(JSON.parse(clean.events[index]) as Record<string, unknown>), id: gapId };
    const seal = clean.seals.find((s) => s.gaps.some(([a, b]) => BigInt(a) <= BigInt(gapId) && BigInt(gapId) <= BigInt(b)))!;
    const extra = await run('extra', { events: [...clean.events, JSON.stringify(forged)] });
    expect(extra.exitCode).toBe(1);
    expect(extra.output).toBe(`FAILED: unexpected-event event ${gapId} in seal ${seal.seq}: An event the seal says did not exist when it was sealed.`);

    const copy = { ...(JSON.parse(clean.events[index]) as Record<string, unknown>), reason: 'a second story' };
    const twice = await run('twice', { events: [JSON.stringify(copy), ...clean.events] });
    expect(twice).toEqual({
      exitCode: 1,
      output: `FAILED: unexpected-event event ${idOf(clean.events[index])} in seal 1: The event appears twice in the export.`,
    });
  });

  it('exits 1 naming a seal whose signature is forged, and one signed by a key that is not published', async () => {
    const seals = clean.seals.map((s) => ({ ...s }));
    const signature = Buffer.from(seals[1].signature, 'base64url');
    signature[5] ^= 0x01;
    seals[1].signature = signature.toString('base64url');
    expect(await run('forged', { seals })).toEqual({ exitCode: 1, output: 'FAILED: bad-signature in seal 2: The seal’s signature does not match its hash.' });

    // A forger's own key: a valid signature, but no published key of that id.
    const forger = generateKeyPairSync('ed25519');
    const other = clean.seals.map((s) => ({ ...s }));
    other[2] = { ...other[2], kid: 'forger-key', signature: sign(null, Buffer.from(other[2].hash, 'ascii'), forger.privateKey).toString('base64url') };
    const unknown = await run('unknown-key', { seals: other });
    expect(unknown).toEqual({ exitCode: 1, output: 'FAILED: unknown-key in seal 3: The seal names key forger-key, which is not among the signing keys.' });

    // …nor by publishing it under the broker's kid: a kid must be its key's thumbprint.
    const jwks = JSON.parse(clean.keys) as { keys: Array<Record<string, unknown>> };
    const swapped = { keys: [{ ...jwks.keys[0], x: forger.publicKey.export({ format: 'jwk' }).x }] };
    const substituted = await run('substituted', { keys: JSON.stringify(swapped) });
    expect(substituted.exitCode).toBe(1);
    expect(substituted.output).toMatch(/^FAILED: keys file .*: key 1 has a kid that is not its RFC 7638 thumbprint$/);
  });

  it('exits 1 when a seal is dropped from the middle of the chain', async () => {
    const result = await run('dropped', { seals: clean.seals.filter((s) => s.seq !== '2') });
    expect(result).toEqual({ exitCode: 1, output: 'FAILED: missing-seal in seal 2: Seal 2 is missing from the chain (the next one is 3).' });
  });

  it('exits 1 when a seal’s fields are changed', async () => {
    const seals = clean.seals.map((s) => ({ ...s }));
    seals[0].sealedAt = '2030-01-01T00:00:00.000Z';
    expect(await run('edited-seal', { seals })).toEqual({ exitCode: 1, output: 'FAILED: altered-seal in seal 1: The seal’s fields do not match its hash.' });
  });

  it('exits 1 naming a row forged in the database under a sealed id, which the export carries beside the sealed one (as the broker’s verify names it)', async () => {
    const { id } = sealedEvent('2');
    // audit_event's key is (id, occurred_at): an INSERT that names a sealed id with another time is a second row, not a conflict.
    await h.db.query(
      `INSERT INTO audit_event
       SELECT (jsonb_populate_record(e, jsonb_build_object('occurred_at', e.occurred_at - interval '40 days', 'outcome', 'success'))).*
         FROM audit_event e WHERE e.id = $1::bigint`,
      [id],
    );
    try {
      const events = (await download('/v1/audit/events/export?format=ndjson', 'with-forged-row.ndjson')).split('\n').filter((l) => l !== '');
      expect(events.filter((l) => idOf(l) === id)).toHaveLength(2);
      expect(await run('forged-row', { events })).toEqual({
        exitCode: 1,
        output: `FAILED: unexpected-event event ${id} in seal 2: The event appears twice in the export.`,
      });

      const auditor = h.operatorToken(['auditor'], { subject: 'auditor@example.com' });
      const online = await request(`${h.baseUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
      expect(await online.body.json()).toMatchObject({ ok: false, problem: { kind: 'unexpected-event', sealSeq: '2', eventId: id } });
    } finally {
      await asOwnerBypassingTriggers(h.db, 'audit_event', `DELETE FROM audit_event WHERE id = $1::bigint AND outcome = 'success'`, [id]);
    }
  });

  it('answers a usage error with 64 and unreadable inputs with 1, naming them', async () => {
    expect((await runAuditVerifyExport(['--events', 'x'])).exitCode).toBe(64);
    expect((await runAuditVerifyExport(['--events', 'x', '--seals', 'y', '--keys', 'z', '--extra'])).exitCode).toBe(64);
    const missing = await runAuditVerifyExport([
      '--events',
      join(dir, 'events.ndjson'),
      '--seals',
      join(dir, 'seals.ndjson'),
      '--keys',
      join(dir, 'none.json'),
    ]);
    expect(missing).toEqual({ exitCode: 1, output: `FAILED: keys file ${join(dir, 'none.json')}: ENOENT` });
    const junk = await run('junk', { events: [...clean.events.slice(0, 3), '{"id": "5", "oops"', ...clean.events.slice(3)] });
    expect(junk).toEqual({ exitCode: 1, output: `FAILED: events file ${join(dir, 'junk.events.ndjson')}, line 4: not JSON` });
    expect(readFileSync(join(dir, 'jwks.json'), 'utf8')).not.toContain('"d"');
  });
});
