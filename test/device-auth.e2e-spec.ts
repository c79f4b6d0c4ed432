import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { sign } from 'jsonwebtoken';
import { BrokerHarness, TERMINAL, type TestDevice } from './support/broker-harness';

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('device authentication on POST /v1/sessions', () => {
  let h: BrokerHarness;
  let device: TestDevice;

  beforeAll(async () => {
    h = await BrokerHarness.start();
    device = await h.enrollDevice();
  });
  afterAll(async () => {
    await h.expectNoSecretsLeaked();
    await h.close();
  });

  async function expectRefused(token: string | undefined, reason: string, actorId: string | null = device.deviceId) {
    const before = h.sandbox.stats.getSessionId;
    const res = await h.post(
      '/v1/sessions',
      { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } },
      token === undefined ? {} : { authorization: `Bearer ${token}` },
    );
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toContain('application/problem+json');
    // Nothing that helps an attacker: the same body whatever went wrong.
    expect(res.body).toMatchObject({
      status: 401,
      code: 'unauthenticated',
      title: 'Authentication failed',
      detail: 'The credentials presented are missing, invalid or not accepted.',
    });
    expect(h.sandbox.stats.getSessionId).toBe(before);
    const events = await h.auditEvents(String(res.body.requestId));
    expect(events.map((e) => [e.action, e.outcome, e.reason, e.actor_id])).toEqual([['auth.refused', 'denied', reason, actorId]]);
  }

  it('accepts a valid token (control)', async () => {
    expect((await h.issue(device)).status).toBe(201);
  });

  it('refuses a missing or garbage token', async () => {
    await expectRefused(undefined, 'no-token', null);
    await expectRefused('not.a.jwt', 'malformed-token', null);
  });

  it('refuses an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(device.jwt({ iat: now - 400, exp: now - 100 }, { expiresIn: undefined }), 'token-expired');
  });

  it('refuses an iat in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(device.jwt({ iat: now + 600, exp: now + 700 }, { expiresIn: undefined }), 'iat-in-future');
  });

  it('refuses an exp more than 5 minutes after iat', async () => {
    await expectRefused(device.jwt({}, { expiresIn: 301 }), 'lifetime-too-long');
  });

  it('refuses a wrong audience', async () => {
    await expectRefused(device.jwt({}, { audience: 'someone-else' }), 'wrong-audience');
  });

  it('refuses alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: device.deviceId, aud: 'pos-session-broker-test', iat: now, exp: now + 60, jti: randomUUID() })}.`;
    await expectRefused(token, 'unsigned-token');
  });

  it('refuses HS256 signed with the public key as the secret', async () => {
    const rows = await h.db.query<{ public_jwk: object }>('SELECT public_jwk FROM device_key WHERE device_id = $1', [device.deviceId]);
    const { createPublicKey } = await import('node:crypto');
    const pem = createPublicKey({ key: rows[0].public_jwk as import('node:crypto').JsonWebKey, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    const token = sign({ jti: randomUUID() }, pem, {
      algorithm: 'HS256',
      subject: device.deviceId,
      audience: 'pos-session-broker-test',
      expiresIn: 60,
    });
    await expectRefused(token, 'algorithm-refused');
  });

  it('refuses a token signed by another key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const token = sign({ jti: randomUUID() }, privateKey, {
      algorithm: 'ES256',
      keyid: device.keyId,
      subject: device.deviceId,
      audience: 'pos-session-broker-test',
      expiresIn: 60,
    });
    await expectRefused(token, 'bad-signature');
  });

  it('refuses a replayed jti', async () => {
    const token = device.jwt();
    expect((await h.issue(device, undefined, token)).status).toBe(201);
    await expectRefused(token, 'jti-replayed');
  });

  it('refuses a token without jti', async () => {
    const token = sign({}, device.privateKey, {
      algorithm: 'ES256',
      keyid: device.keyId,
      subject: device.deviceId,
      audience: 'pos-session-broker-test',
      expiresIn: 60,
    });
    await expectRefused(token, 'claims-missing');
  });

  it('refuses an unknown device', async () => {
    const unknown = randomUUID();
    await expectRefused(device.jwt({}, { subject: unknown }), 'unknown-device', unknown);
  });

  it('refuses a disabled and a revoked device', async () => {
    const disabled = await h.enrollDevice();
    await h.db.query(`UPDATE device SET status = 'disabled' WHERE id = $1`, [disabled.deviceId]);
    const revoked = await h.enrollDevice();
    await h.db.query(`UPDATE device SET status = 'revoked' WHERE id = $1`, [revoked.deviceId]);
    await expectRefused(disabled.jwt(), 'device-disabled', disabled.deviceId);
    await expectRefused(revoked.jwt(), 'device-revoked', revoked.deviceId);
  });
});
