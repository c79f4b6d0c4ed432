import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { sign, type SignOptions } from 'jsonwebtoken';
import { request } from 'undici';
import { createApp } from '../../src/app.factory';
import { DeviceEnrollment } from '../../src/devices/device-enrollment';
import { MetricsServer } from '../../src/metrics/metrics.controller';
import { createHypSandbox, type HypSandbox } from '../../src/sandbox/hyp/hyp-sandbox';
import { createEmbeddedComponentsSandbox, type EmbeddedComponentsSandbox } from '../../src/sandbox/embedded-components/embedded-components-sandbox';
import { createPayrocSandbox, type PayrocSandbox } from '../../src/sandbox/payroc/payroc-sandbox';
import { createWalletSandbox, type WalletSandbox } from '../../src/sandbox/wallet/wallet-sandbox';
import type { ScopePolicy } from '../../src/policy/scope-policy';
import { TerminalDirectory } from '../../src/terminals/terminal-directory';
import { TerminalRepository } from '../../src/terminals/terminal.repository';
import { LogCapture } from './log-capture';
import { recordResponses } from './observed-responses';
import { createTestDatabase, type TestDatabase } from './test-database';

export const TERMINAL = '0882819014';
export const SECOND_TERMINAL = '0882819015';
export const NO_SESSIONS_TERMINAL = '0882819016';
export const AUDIENCE = 'pos-session-broker-test';
/** Terminals of the other providers (src/gateways/providers.ts), each on its own sandbox. */
export const PAYROC_TERMINAL = '0882819030';
export const EMBEDDED_TERMINAL = '0882819031';
export const WALLET_TERMINAL = '0882819032';
export const PAYROC_PROCESSING_TERMINAL_ID = '1234001';
export const WALLET_IDS = ['2sdflsd', 'w-0002'];
export const PARENT_SYSTEM_ID = 'BL13GT';
export const OPERATOR_ISSUER = 'https://idp.test.example';
export const OPERATOR_AUDIENCE = 'pos-session-broker-operators-test';

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
  /** Audit seal signing key at `broker/audit-seal-key` (used when AUDIT_SEAL_KEY_REF names it); change and writeSecrets() to rotate. */
  sealKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  /** The test identity provider's signing key; its public half is OPERATOR_JWT_PUBLIC_KEY. */
  readonly operatorKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  app!: NestFastifyApplication;
  /** The environment the broker was started with (to start a second instance like it). */
  appEnv!: Record<string, string>;
  db!: TestDatabase;
  sandbox!: HypSandbox;
  sandboxUrl!: string;
  baseUrl!: string;
  secretsFile!: string;
  payroc!: PayrocSandbox;
  embedded!: EmbeddedComponentsSandbox;
  wallet!: WalletSandbox;
  /** The other providers' secrets as the secret store holds them; change and writeSecrets() to rotate. */
  readonly providerSecrets = {
    payroc: { apiKey: `pk-${randomBytes(16).toString('hex')}` },
    embedded: { gatewayApiKey: `gk-${randomBytes(16).toString('hex')}`, merchantCentralApiKey: `mk-${randomBytes(16).toString('hex')}` },
    wallet: { authToken: `at-${randomBytes(16).toString('hex')}`, signingKey: `sk-${randomBytes(16).toString('hex')}` },
  };
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
    await this.startProviderSandboxes();
    this.db = await createTestDatabase();
    this.app = await createApp({
      env: (this.appEnv = {
        NODE_ENV: 'test',
        DATABASE_URL: viaDatabaseUrl ? viaDatabaseUrl(this.db.url) : this.db.url,
        MIGRATE_ON_START: 'true',
        SECRETS_FILE: secretsFile,
        DEVICE_JWT_AUDIENCE: AUDIENCE,
        LOG_LEVEL: 'debug',
        GATEWAY_RETRY_BASE_DELAY_MS: '5',
        REQUEST_DEADLINE_MS: '2000',
        OPERATOR_JWT_PUBLIC_KEY: this.operatorKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        OPERATOR_JWT_ISSUER: OPERATOR_ISSUER,
        OPERATOR_JWT_AUDIENCE: OPERATOR_AUDIENCE,
        // Metrics on a free port of their own (see metrics()). Unless a test sets them: JWKS refetches
        // unthrottled, and every refused authentication audited on its own (tests look refusals up by request id).
        METRICS_PORT: '0',
        OPERATOR_JWKS_REFETCH_INTERVAL_MS: '0',
        AUTH_REFUSAL_AUDIT_INTERVAL_MS: '0',
        ...extraEnv,
      }),
      logDestination: this.logs,
    });
    // Every response the tests see, for the OpenAPI conformance test (test/openapi-conformance.e2e-spec.ts).
    recordResponses(this.app.getHttpAdapter().getInstance());
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
    await this.seedProviderTerminals();
  }

  /** (Re)writes the file secret store with `password` for every terminal. */
  writeSecrets(password: string): void {
    this.secretsSeen.add(password);
    writeFileSync(
      this.secretsFile,
      JSON.stringify({
        'broker/audit-fingerprint-key': { key: this.fingerprintKey.toString('base64') },
        'broker/audit-seal-key': { privateKey: this.sealKeyPem },
        [`hyp/${TERMINAL}`]: { username: 'merchant-a', password },
        [`hyp/${SECOND_TERMINAL}`]: { username: 'merchant-b', password },
        [`hyp/${NO_SESSIONS_TERMINAL}`]: { username: 'merchant-c', password },
        [`payroc/${PAYROC_TERMINAL}`]: this.providerSecrets.payroc,
        [`embedded-components/${EMBEDDED_TERMINAL}`]: this.providerSecrets.embedded,
        [`wallet/${WALLET_TERMINAL}`]: this.providerSecrets.wallet,
      }),
    );
  }

  async enrollDevice(
    policy: ScopePolicy = { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] },
    terminalNumbers: string[] = [TERMINAL],
  ): Promise<TestDevice> {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const enrolled = await this.app
      .get(DeviceEnrollment)
      .enroll(
        { name: 'test-pos', publicKey: publicKey.export({ format: 'jwk' }), terminalNumbers, policy },
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

  /** An operator JWT as the test identity provider would issue it, with `roles` in the `roles` claim. */
  operatorToken(roles: string[], overrides: { subject?: string; expiresInSeconds?: number; audience?: string } = {}): string {
    return sign({ roles }, this.operatorKey.privateKey, {
      algorithm: 'ES256',
      subject: overrides.subject ?? 'alice@example.com',
      issuer: OPERATOR_ISSUER,
      audience: overrides.audience ?? OPERATOR_AUDIENCE,
      expiresIn: overrides.expiresInSeconds ?? 300,
      jwtid: randomUUID(),
    });
  }

  /** Any method; `body` (JSON) only when given. Parses JSON answers like post(). */
  async send(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
    const res = await request(`${this.baseUrl}${path}`, {
      method,
      headers: { 'user-agent': 'jest-pos/1.0', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
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
  issue(
    device: TestDevice,
    body: unknown = { terminalNumber: TERMINAL, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } },
    token = device.jwt(),
  ) {
    return this.post('/v1/sessions', body, { authorization: `Bearer ${token}` });
  }

  /** GET /metrics from the metrics port (METRICS_PORT), as Prometheus scrapes it. */
  async metrics(): Promise<string> {
    const url = this.app.get(MetricsServer).url();
    if (!url) throw new Error('metrics are off (METRICS_PORT=off)');
    const res = await request(`${url}/metrics`);
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET /metrics answered ${res.statusCode}`);
    return text;
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

  /** Payroc, embedded-component and wallet sandboxes, knowing the secrets the store holds. */
  private async startProviderSandboxes(): Promise<void> {
    const ps = this.providerSecrets;
    for (const secret of [ps.payroc.apiKey, ps.embedded.gatewayApiKey, ps.embedded.merchantCentralApiKey, ps.wallet.authToken, ps.wallet.signingKey]) {
      this.secretsSeen.add(secret);
    }
    this.payroc = createPayrocSandbox({
      merchants: [{ apiKey: ps.payroc.apiKey, processingTerminalIds: [PAYROC_PROCESSING_TERMINAL_ID, '1234002'], withoutHostedFields: ['1234002'] }],
    });
    await this.payroc.listen(0, '127.0.0.1');
    this.embedded = createEmbeddedComponentsSandbox({
      keys: [
        { apiKey: ps.embedded.gatewayApiKey, account: 'gateway' },
        { apiKey: ps.embedded.merchantCentralApiKey, account: 'merchant-central' },
      ],
    });
    this.embeddedUrl = await this.embedded.listen(0, '127.0.0.1');
    this.wallet = createWalletSandbox({
      parents: [
        {
          parentSystemId: PARENT_SYSTEM_ID,
          signingKey: ps.wallet.signingKey,
          authTokens: [ps.wallet.authToken],
          walletIds: [...WALLET_IDS, 'blocked-1'],
          blockedWalletIds: ['blocked-1'],
        },
      ],
    });
    this.walletUrl = await this.wallet.listen(0, '127.0.0.1');
  }

  embeddedUrl!: string;
  walletUrl!: string;

  private async seedProviderTerminals(): Promise<void> {
    const terminals = this.app.get(TerminalRepository);
    const seed = async (terminalNumber: string, provider: string, endpointUrl: string, providerConfig: object) => {
      await terminals.upsert({
        terminalNumber,
        label: `T ${terminalNumber}`,
        provider,
        endpointUrl,
        credentialRef: `${provider}/${terminalNumber}`,
        providerConfig,
      });
    };
    await seed(PAYROC_TERMINAL, 'payroc', this.payroc.apiUrl, { processingTerminalId: PAYROC_PROCESSING_TERMINAL_ID, identityUrl: this.payroc.identityUrl });
    await seed(EMBEDDED_TERMINAL, 'embedded-components', this.embeddedUrl, { apis: ['gateway', 'merchant-central'] });
    await seed(WALLET_TERMINAL, 'wallet', this.walletUrl, { parentSystemId: PARENT_SYSTEM_ID, walletIds: [...WALLET_IDS, 'blocked-1'] });
  }

  async close(): Promise<void> {
    await this.app?.close();
    await this.sandbox?.close();
    await this.payroc?.close();
    await this.embedded?.close();
    await this.wallet?.close();
    await this.db?.drop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Changes a seeded terminal's provider configuration (checked), and drops this instance's cached copy. */
export async function reconfigureTerminal(h: BrokerHarness, terminalNumber: string, provider: string, providerConfig: object): Promise<void> {
  const terminal = await h.app.get(TerminalRepository).findByNumber(terminalNumber);
  if (!terminal) throw new Error(`no terminal ${terminalNumber}`);
  await h.app.get(TerminalRepository).upsert({ ...terminal, provider, providerConfig });
  h.app.get(TerminalDirectory).invalidate(terminalNumber);
}
