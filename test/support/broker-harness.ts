import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { sign, type SignOptions } from 'jsonwebtoken';
import { request } from 'undici';
import { createApp } from '../../src/app.factory';
import { DeviceEnrollment } from '../../src/devices/device-enrollment';
import { createHypSandbox, type HypSandbox } from '../../src/sandbox/hyp/hyp-sandbox';
import type { ScopePolicy } from '../../src/sessions/hyp-scope.schema';
import { TerminalRepository } from '../../src/terminals/terminal.repository';
import { LogCapture } from './log-capture';
import { createTestDatabase, type TestDatabase } from './test-database';

export const TERMINAL = '0882819014';
export const SECOND_TERMINAL = '0882819015';
export const NO_SESSIONS_TERMINAL = '0882819016';
export const AUDIENCE = 'pos-session-broker-test';

export interface TestDevice {
  deviceId: string;
  keyId: string;
  privateKey: KeyObject;
  /** A fresh, valid device JWT; `claims`/`options` override for negative tests. */
  jwt(claims?: Record<string, unknown>, options?: Partial<SignOptions>): string;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  text: string;
}

export interface AuditRow {
  id: string;
  action: string;
  outcome: string;
  reason: string | null;
  actor_id: string | null;
  terminal_number: string | null;
  scope: unknown;
  request_id: string;
  client_ip: string | null;
  user_agent: string | null;
  gateway_result: string | null;
  gateway_tran_id: string | null;
  latency_ms: number | null;
  session_fingerprint: string | null;
  details: unknown;
}

/**
 * A broker over HTTP on a random port, against its own fresh Postgres database and an
 * in-process Hyp sandbox, with captured logs. Knows every secret it handed out, so tests can
 * check none of them leaked.
 */
export class BrokerHarness {
  readonly logs = new LogCapture();
  readonly secretsSeen = new Set<string>();
  readonly password = `pw-${randomBytes(12).toString('hex')}`;
  readonly fingerprintKey = randomBytes(32);
  app!: NestFastifyApplication;
  db!: TestDatabase;
  sandbox!: HypSandbox;
  sandboxUrl!: string;
  baseUrl!: string;
  secretsFile!: string;
  private dir!: string;

  /** `viaDatabaseUrl` lets a test put something (a cuttable proxy) between the broker and its database. */
  static async start(env: Record<string, string> = {}, viaDatabaseUrl?: (url: string) => string): Promise<BrokerHarness> {
    const h = new BrokerHarness();
    await h.boot(env, viaDatabaseUrl);
    return h;
  }

  private async boot(extraEnv: Record<string, string>, viaDatabaseUrl?: (url: string) => string): Promise<void> {
    this.secretsSeen.add(this.password);
    this.dir = mkdtempSync(join(tmpdir(), 'psb-'));
    const secretsFile = join(this.dir, 'secrets.json');
    this.secretsFile = secretsFile;
    this.writeSecrets(this.password);
    this.sandbox = createHypSandbox({
      terminals: {
        [TERMINAL]: { user: 'merchant-a', password: this.password },
        [SECOND_TERMINAL]: { user: 'merchant-b', password: this.password },
        [NO_SESSIONS_TERMINAL]: { user: 'merchant-c', password: this.password, sessionsEnabled: false },
      },
    });
    this.sandboxUrl = await this.sandbox.listen(0, '127.0.0.1');
    this.db = await createTestDatabase();
    this.app = await createApp({
      env: {
        NODE_ENV: 'test',
        DATABASE_URL: viaDatabaseUrl ? viaDatabaseUrl(this.db.url) : this.db.url,
        MIGRATE_ON_START: 'true',
        SECRETS_FILE: secretsFile,
        DEVICE_JWT_AUDIENCE: AUDIENCE,
        LOG_LEVEL: 'debug',
        GATEWAY_RETRY_BASE_DELAY_MS: '5',
        REQUEST_DEADLINE_MS: '2000',
        ...extraEnv,
      },
      logDestination: this.logs,
    });
    await this.app.listen({ port: 0, host: '127.0.0.1' });
    const address = this.app.getHttpServer().address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    this.baseUrl = `http://127.0.0.1:${address.port}`;
    const terminals = this.app.get(TerminalRepository);
    for (const [number, endpoint] of [
      [TERMINAL, this.sandboxUrl],
      [SECOND_TERMINAL, this.sandboxUrl],
      [NO_SESSIONS_TERMINAL, this.sandboxUrl],
    ]) {
      await terminals.upsert({ terminalNumber: number, label: `T ${number}`, provider: 'hyp', endpointUrl: endpoint, credentialRef: `hyp/${number}` });
    }
  }

  /** (Re)writes the file secret store with `password` for every terminal. */
  writeSecrets(password: string): void {
    this.secretsSeen.add(password);
    writeFileSync(
      this.secretsFile,
      JSON.stringify({
        'broker/audit-fingerprint-key': { key: this.fingerprintKey.toString('base64') },
        [`hyp/${TERMINAL}`]: { username: 'merchant-a', password },
        [`hyp/${SECOND_TERMINAL}`]: { username: 'merchant-b', password },
        [`hyp/${NO_SESSIONS_TERMINAL}`]: { username: 'merchant-c', password },
      }),
    );
  }

  async enrollDevice(
    policy: ScopePolicy = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] },
    terminalNumbers: string[] = [TERMINAL],
  ): Promise<TestDevice> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const enrolled = await this.app.get(DeviceEnrollment).enroll(
      { name: 'test-pos', publicKey: publicKey.export({ format: 'jwk' }) as Record<string, unknown>, terminalNumbers, policy },
      { type: 'operator', id: 'test' },
      { requestId: `test-${randomUUID().slice(0, 8)}` },
    );
    return {
      deviceId: enrolled.deviceId,
      keyId: enrolled.keyId,
      privateKey,
      jwt: (claims = {}, options = {}) => {
        const merged: SignOptions = { algorithm: 'ES256', keyid: enrolled.keyId, subject: enrolled.deviceId, audience: AUDIENCE, expiresIn: 120, ...options };
        // `expiresIn: undefined` means "exp comes from the claims".
        if ('expiresIn' in options && options.expiresIn === undefined) delete merged.expiresIn;
        return sign({ jti: randomUUID(), ...claims }, privateKey, merged);
      },
    };
  }

  async post(path: string, body: unknown, headers: Record<string, string> = {}, raw = false): Promise<HttpResult> {
    const res = await request(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'jest-pos/1.0', ...headers },
      body: raw ? (body as string) : JSON.stringify(body),
    });
    const text = await res.body.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* not JSON: tests look at text */
    }
    if (typeof parsed.sessionId === 'string') this.secretsSeen.add(parsed.sessionId);
    return { status: res.statusCode, headers: res.headers, body: parsed, text };
  }

  /** POST /v1/sessions as `device`. */
  issue(device: TestDevice, body: unknown = { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } }, token = device.jwt()) {
    return this.post('/v1/sessions', body, { authorization: `Bearer ${token}` });
  }

  auditEvents(requestId: string): Promise<AuditRow[]> {
    return this.db.query<AuditRow>('SELECT * FROM audit_event WHERE request_id = $1 ORDER BY id', [requestId]);
  }

  allAuditText(): Promise<string> {
    return this.db.query('SELECT * FROM audit_event').then((rows) => JSON.stringify(rows));
  }

  /** No password or issued sessionId in any captured log line or audit row. */
  async expectNoSecretsLeaked(): Promise<void> {
    const audit = await this.allAuditText();
    for (const secret of this.secretsSeen) {
      expect(this.logs.text).not.toContain(secret);
      expect(audit).not.toContain(secret);
    }
  }

  async close(): Promise<void> {
    await this.app?.close();
    await this.sandbox?.close();
    await this.db?.drop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
