import { createHash, createHmac, createPublicKey, generateKeyPairSync, hkdfSync, verify as verifySignature } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { readSealSigningKey } from '../src/audit/audit-key';
import { AuditSealer } from '../src/audit/seal/audit-sealer';
import { EVENT_COLUMNS, type EventRow } from '../src/audit/event-row';
import { GENESIS_HASH, SealedEvents, sealHash, type SealHeader } from '../src/audit/seal/seal-format';
import { headerOf } from '../src/audit/seal/seal-check';
import { SealRepository } from '../src/audit/seal/seal.repository';
import type { AppConfig } from '../src/config/app-config';
import { validateConfig } from '../src/config/config.schema';
import { DatabaseConnection } from '../src/database/database-connection';
import { migrate } from '../src/database/database.module';
import { MigrationRunner, defaultMigrationsDir } from '../src/database/migration-runner';
import { DEV_SEAL_KEY_REF, ensureDevSecrets } from '../src/embedded/dev-secrets';
import { FileSecretsProvider } from '../src/secrets/file-secrets.provider';
import { asOwnerBypassingTriggers, seedEvents } from './support/audit-seeding';
import { BrokerHarness } from './support/broker-harness';
import { createTestDatabase, type TestDatabase } from './support/test-database';

async function sealAll(h: BrokerHarness) {
  const watermark = await h.app.get(SealRepository).allocatedWatermark();
  return h.app.get(AuditSealer).sealUpTo(watermark);
}

/** RFC 7638 thumbprint computed here, independently of the broker's code. */
function thumbprintOf(pem: string): string {
  const jwk = createPublicKey(pem).export({ format: 'jwk' }) as Record<string, string>;
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

interface SealLine extends SealHeader {
  hash: string;
  kid: string;
  alg: string;
  signature: string;
  locators: string;
}

function lines(text: string): SealLine[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as SealLine);
}

/** Checks a seal line with node:crypto and the published JWK alone, as an auditor's own tool would. */
function signatureHolds(seal: SealLine, jwk: Record<string, unknown>): boolean {
  const key = createPublicKey({ key: jwk as never, format: 'jwk' });
  const data = Buffer.from(seal.hash, 'ascii');
  const signature = Buffer.from(seal.signature, 'base64url');
  return seal.alg === 'EdDSA' ? verifySignature(null, data, key, signature) : verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
}

describe('GET /v1/audit/verify before the first seal', () => {
  let h: BrokerHarness;

  beforeAll(async () => {
    // No background sealer: the trail has events and no seal.
    h = await BrokerHarness.start({ AUDIT_SEAL_INTERVAL_MS: '0' });
  });
  afterAll(() => h?.close());

  it('counts the events no seal covers yet instead of answering unsealedEvents: 0', async () => {
    await seedEvents(h.db, 7);
    const auditor = h.operatorToken(['auditor'], { subject: 'auditor@example.com' });
    const res = await h.send('GET', '/v1/audit/verify', undefined, { authorization: `Bearer ${auditor}` });
    expect(res.status).toBe(200);
    const [{ n }] = await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_event');
    // The verify request records its own access after counting, so every event but that one is unsealed.
    expect(n).toBeGreaterThanOrEqual(7);
    expect(res.body).toMatchObject({ newestSeal: null, sealsChecked: 0 });
    expect(res.body.unsealedEvents).toBeGreaterThanOrEqual(7);
    expect(res.body.unsealedEvents).toBe(n - 1);
  });
});

describe('seals signed with an asymmetric key from the secret store (HTTP)', () => {
  let h: BrokerHarness;
  let auditor: string;
  const get = (path: string, token = auditor) => h.send('GET', path, undefined, { authorization: `Bearer ${token}` });

  beforeAll(async () => {
    h = await BrokerHarness.start({
      AUDIT_SEAL_INTERVAL_MS: '0',
      AUDIT_SEAL_MAX_EVENTS: '20',
      AUDIT_SEAL_KEY_REF: 'broker/audit-seal-key',
      SECRETS_CACHE_TTL_MS: '0',
    });
    auditor = h.operatorToken(['auditor'], { subject: 'auditor@example.com' });
  });
  afterAll(() => h?.close());

  it('signs every seal with the store’s key, names it by its thumbprint, and publishes its public half as a JWK Set', async () => {
    await seedEvents(h.db, 45);
    expect((await sealAll(h)).length).toBe(3);
    const kid = thumbprintOf(h.sealKeyPem);

    const keys = await get('/v1/audit/signing-keys');
    expect(keys.status).toBe(200);
    expect(keys.headers['content-type']).toMatch(/^application\/json/);
    const jwks = keys.body.keys as Array<Record<string, unknown>>;
    expect(jwks).toHaveLength(1);
    expect(jwks[0]).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      kid,
      alg: 'EdDSA',
      use: 'sig',
      validFrom: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      validTo: null,
    });
    const [read] = await h.auditEvents(keys.headers['x-request-id'] as string);
    expect(read).toMatchObject({ action: 'audit.signing-keys.read', actor_id: 'auditor@example.com', details: { keys: [kid] } });

    const seals = await get('/v1/audit/seals');
    expect(seals.status).toBe(200);
    expect(seals.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const chain = lines(seals.text);
    expect(chain.map((s) => [s.seq, s.version, s.eventCount, s.kid, s.alg])).toEqual([
      ['1', 2, 20, kid, 'EdDSA'],
      ['2', 2, 20, kid, 'EdDSA'],
      ['3', 2, 5, kid, 'EdDSA'],
    ]);
    let prev = GENESIS_HASH;
    for (const seal of chain) {
      expect(seal.prevHash).toBe(prev);
      expect(sealHash(headerOf(seal))).toBe(seal.hash);
      expect(seal).toMatchObject({
        minOccurredAt: expect.any(String),
        maxOccurredAt: expect.any(String),
        eventsDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect(signatureHolds(seal, jwks[0])).toBe(true);
      prev = seal.hash;
    }
    // A signature over another hash does not hold: the check above can fail.
    expect(signatureHolds({ ...chain[1], hash: chain[0].hash }, jwks[0])).toBe(false);
    const [exported] = await h.auditEvents(seals.headers['x-request-id'] as string);
    expect(exported).toMatchObject({ action: 'audit.seals.exported', details: { firstSealSeq: '1', lastSealSeq: '3' } });

    const stored = await h.db.query<{ alg: string; key_id: string }>('SELECT DISTINCT alg, key_id FROM audit_seal');
    expect(stored).toEqual([{ alg: 'EdDSA', key_id: kid }]);
    expect(await get('/v1/audit/verify')).toMatchObject({ status: 200, body: { ok: true, sealsChecked: 3 } });

    // The private key is nowhere: not in the answers, the logs or the trail.
    const body = h.sealKeyPem.split('\n').slice(1, -2).join('');
    for (const text of [keys.text, seals.text, h.logs.text, await h.allAuditText()]) expect(text).not.toContain(body);
  });

  it('keeps every key ever used published after a rotation, so the old seals still verify', async () => {
    const oldPem = h.sealKeyPem;
    const oldKid = thumbprintOf(oldPem);
    h.sealKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    h.writeSecrets(h.password);
    const newKid = thumbprintOf(h.sealKeyPem);
    await seedEvents(h.db, 10);
    expect((await sealAll(h)).length).toBeGreaterThanOrEqual(1);

    const jwks = (await get('/v1/audit/signing-keys')).body.keys as Array<Record<string, unknown>>;
    expect(jwks.map((k) => [k.kid, k.alg, k.kty])).toEqual([
      [oldKid, 'EdDSA', 'OKP'],
      [newKid, 'ES256', 'EC'],
    ]);
    expect(jwks[0].validTo).toBe(jwks[1].validFrom);
    expect(jwks[1].validTo).toBeNull();

    const chain = lines((await get('/v1/audit/seals')).text);
    expect(chain.slice(0, 3).every((s) => s.kid === oldKid)).toBe(true);
    expect(chain.slice(3).every((s) => s.kid === newKid && s.alg === 'ES256')).toBe(true);
    for (const seal of chain)
      expect(
        signatureHolds(
          seal,
          jwks.find((k) => k.kid === seal.kid)!,
        ),
      ).toBe(true);
    expect((await get('/v1/audit/verify')).body).toMatchObject({ ok: true, sealsChecked: chain.length });

    // A replaced key written back to the store is never current again: nothing is signed with it.
    const newPem = h.sealKeyPem;
    h.sealKeyPem = oldPem;
    h.writeSecrets(h.password);
    await seedEvents(h.db, 3);
    await expect(sealAll(h)).rejects.toThrow(/was replaced/);
    expect((await h.db.query('SELECT 1 FROM audit_seal WHERE key_id = $1 AND seq > 3', [oldKid])).length).toBe(0);
    h.sealKeyPem = newPem;
    h.writeSecrets(h.password);
    expect((await sealAll(h)).length).toBe(1);
    expect((await get('/v1/audit/verify')).body).toMatchObject({ ok: true, sealsChecked: chain.length + 1 });

    // Published keys are append-only in the database too.
    await expect(h.db.query('DELETE FROM audit_signing_key')).rejects.toThrow(/append-only/);
    await expect(h.db.query(`UPDATE audit_signing_key SET public_jwk = '{}'::jsonb`)).rejects.toThrow(/append-only/);
    await expect(h.db.query(`UPDATE audit_signing_key SET valid_to = NULL WHERE kid = $1`, [oldKid])).rejects.toThrow(/append-only/);
  });

  it('answers a bad range with 400 problem+json, and refuses admins and anonymous callers', async () => {
    const bad = await get('/v1/audit/seals?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    expect((await get('/v1/audit/seals?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z')).status).toBe(400);
    expect((await get('/v1/audit/seals?extra=1')).status).toBe(400);
    expect((await get('/v1/audit/signing-keys', h.operatorToken(['admin']))).status).toBe(403);
    expect((await h.send('GET', '/v1/audit/signing-keys')).status).toBe(401);
    // A range before every event: no seal, an empty export.
    const none = await get('/v1/audit/seals?to=2000-01-01T00:00:00Z');
    expect(none).toMatchObject({ status: 200, text: '' });
  });
});

describe('a database upgraded from HMAC-signed seals (version 1)', () => {
  let h: BrokerHarness;
  let db: TestDatabase;
  let dir: string;
  let auditor: string;
  const get = (path: string) => h.send('GET', path, undefined, { authorization: `Bearer ${auditor}` });

  /** Seals the events after `after` the way the broker did before the switch: version 1, HMAC over the hash. */
  async function sealAsBefore(fingerprintKey: Buffer, seq: number, prev: { hash: string; last: bigint }): Promise<{ hash: string; last: bigint }> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const rows = (
        await client.query({ text: `SELECT ${EVENT_COLUMNS} FROM audit_event e WHERE e.id > $1 ORDER BY e.id`, values: [String(prev.last)], rowMode: 'array' })
      ).rows as EventRow[];
      const sealed = new SealedEvents(prev.last + 1n);
      for (const row of rows) sealed.add(row);
      const parts = sealed.finish();
      const header: SealHeader = {
        version: 1,
        seq: String(seq),
        firstEventId: String(prev.last + 1n),
        lastEventId: String(sealed.lastEventId),
        eventCount: sealed.count,
        gaps: parts.gaps,
        minOccurredAt: parts.minOccurredAt,
        maxOccurredAt: parts.maxOccurredAt,
        eventsDigest: parts.eventsDigest,
        prevHash: prev.hash,
        sealedAt: new Date().toISOString(),
      };
      const hash = sealHash(header);
      const hmacKey = Buffer.from(hkdfSync('sha256', fingerprintKey, Buffer.alloc(0), 'pos-session-broker audit seal v1', 32));
      const keyId = createHash('sha256').update(hmacKey).digest('hex').slice(0, 16);
      await client.query(
        `INSERT INTO audit_seal (seq, version, first_event_id, last_event_id, event_count, gaps, min_occurred_at, max_occurred_at,
             event_locators, events_digest, prev_hash, hash, key_id, signature, sealed_at)
         VALUES ($1, 1, $2, $3, $4, $5::jsonb, $6, $7, $8, decode($9, 'hex'), decode($10, 'hex'), decode($11, 'hex'), $12, $13, $14)`,
        [
          header.seq,
          header.firstEventId,
          header.lastEventId,
          header.eventCount,
          JSON.stringify(header.gaps),
          header.minOccurredAt,
          header.maxOccurredAt,
          parts.locators,
          parts.eventsDigest,
          prev.hash,
          hash,
          keyId,
          createHmac('sha256', hmacKey).update(hash, 'utf8').digest(),
          header.sealedAt,
        ],
      );
      return { hash, last: sealed.lastEventId };
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    // The schema as it was before this change: every migration older than the signing keys'.
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'psb-mig-'));
    for (const name of readdirSync(defaultMigrationsDir())) {
      if (!/^\d{14}_/.test(name) || name >= '20261130200000') continue;
      mkdirSync(join(dir, name));
      copyFileSync(join(defaultMigrationsDir(), name, 'migration.sql'), join(dir, name, 'migration.sql'));
    }
    const connection = await DatabaseConnection.open({ databaseUrl: db.url, poolMax: 1, pgliteDataDir: 'unused' });
    const runner = await connection.openScriptRunner();
    try {
      await new MigrationRunner(runner, dir).migrate();
    } finally {
      await runner.close();
      await connection.close();
    }
    const columns = await db.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_seal'`);
    expect(columns.map((c) => c.column_name)).toContain('key_id');
    expect(columns.map((c) => c.column_name)).not.toContain('alg');
  });
  afterAll(async () => {
    await h?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('still verifies the old HMAC seals, chains the first signed seal to them, and exports both', async () => {
    // A broker on the old schema (nothing migrated on start); its audit key made the old seals.
    h = await BrokerHarness.start({ AUDIT_SEAL_INTERVAL_MS: '0', DATABASE_URL: db.url, MIGRATE_ON_START: 'false' });
    auditor = h.operatorToken(['auditor'], { subject: 'auditor@example.com' });
    const first = await seedEvents(db, 12);
    let prev = await sealAsBefore(h.fingerprintKey, 1, { hash: GENESIS_HASH, last: 0n });
    await seedEvents(db, 8);
    prev = await sealAsBefore(h.fingerprintKey, 2, prev);

    // The upgrade: the deployment applies the new migrations.
    const connection = await DatabaseConnection.open({ databaseUrl: db.url, poolMax: 1, pgliteDataDir: 'unused' });
    try {
      expect(await migrate(connection)).toContain('20261130200000_audit_signing_keys');
    } finally {
      await connection.close();
    }

    expect(await db.query(`SELECT seq::text, alg FROM audit_seal ORDER BY seq`)).toEqual([
      { seq: '1', alg: 'HS256' },
      { seq: '2', alg: 'HS256' },
    ]);
    expect((await get('/v1/audit/verify')).body).toMatchObject({ ok: true, sealsChecked: 2, eventsChecked: 20 });

    await seedEvents(db, 5);
    const made = await sealAll(h);
    expect(made.length).toBe(1);
    const chain = lines((await get('/v1/audit/seals')).text);
    expect(chain.map((s) => [s.seq, s.version, s.alg])).toEqual([
      ['1', 1, 'HS256'],
      ['2', 1, 'HS256'],
      ['3', 2, 'EdDSA'],
    ]);
    expect(chain[2].prevHash).toBe(prev.hash);
    expect((await get('/v1/audit/verify')).body).toMatchObject({ ok: true, sealsChecked: 3 });

    // An old seal's events are still protected.
    await asOwnerBypassingTriggers(db, 'audit_event', `UPDATE audit_event SET outcome = 'denied' WHERE id = $1`, [first[3]]);
    expect((await get('/v1/audit/verify')).body).toMatchObject({ ok: false, problem: { kind: 'altered-event', sealSeq: '1', eventId: first[3] } });
  });
});

describe('the embedded mode’s development secrets', () => {
  it('hold an Ed25519 seal signing key of their own, added to a file written by an earlier version and then kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'psb-dev-'));
    try {
      const path = join(dir, 'dev-secrets.json');
      // A file as an earlier version wrote it: no seal key yet.
      writeFileSync(path, JSON.stringify({ 'broker/audit-fingerprint-key': { key: Buffer.alloc(32, 7).toString('base64') } }));
      const secrets = ensureDevSecrets(path, 'broker/audit-fingerprint-key');
      const pem = secrets[DEV_SEAL_KEY_REF].privateKey;
      expect(createPublicKey(pem).asymmetricKeyType).toBe('ed25519');
      expect(ensureDevSecrets(path, 'broker/audit-fingerprint-key')[DEV_SEAL_KEY_REF].privateKey).toBe(pem);
      const config = { values: validateConfig({ AUDIT_SEAL_KEY_REF: DEV_SEAL_KEY_REF, SECRETS_FILE: path }) } as unknown as AppConfig;
      const key = await readSealSigningKey(new FileSecretsProvider(path, 0), config);
      expect(key).toMatchObject({ alg: 'EdDSA', kid: thumbprintOf(pem) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuse to start sealing with a key that is not Ed25519 or P-256, naming the ref but not the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'psb-dev-'));
    try {
      const path = join(dir, 'secrets.json');
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      writeFileSync(path, JSON.stringify({ 'seal/rsa': { privateKey: rsa }, 'seal/junk': { privateKey: 'not a key' } }));
      const config = (ref: string) => ({ values: validateConfig({ AUDIT_SEAL_KEY_REF: ref, SECRETS_FILE: path }) }) as unknown as AppConfig;
      const store = new FileSecretsProvider(path, 0);
      const message = (ref: string) =>
        readSealSigningKey(store, config(ref)).then(
          () => 'started',
          (err: Error) => err.message,
        );
      expect(await message('seal/rsa')).toBe('The audit seal key (seal/rsa) must be an Ed25519 or P-256 key (is rsa).');
      expect(await message('seal/junk')).toBe('The audit seal key (seal/junk) is not a PEM private key.');
      await expect(readSealSigningKey(store, config('seal/none'))).rejects.toThrow(/^The audit seal key \(seal\/none\) cannot be read from the secret store/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
