/**
 * `npm run demo`: a scripted POS device against the embedded broker (`npm start`), written with
 * the device SDK (sdk/): its key, its signed JWTs and its session calls all come from there.
 * It enrolls itself with the local bootstrap token, gets a scoped sessionId, pays with it on the
 * Hyp sandbox, and shows what the broker and the sandbox refuse.
 * `npm run demo -- --provider payroc` (or embedded-components, wallet) runs the same device
 * against that provider's demo terminal instead.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { config as loadDotenv } from 'dotenv';
import { request } from 'undici';
import {
  BrokerClient,
  BrokerProblemError,
  exportPrivateJwk,
  generateDeviceKey,
  importPrivateJwk,
  signDeviceToken,
  type DeviceKey,
  type Session,
} from '../sdk/src/index';
import { FileKeyStore } from '../sdk/src/node';
import { buildDoDealRequest, parseHypResponse } from '../src/gateways/hyp/hyp-xml';
import { DEMO_PROVIDER_TERMINALS } from '../src/embedded/dev-secrets';

loadDotenv({ quiet: true });
const broker = process.env.BROKER_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`;
const sandbox = process.env.HYP_SANDBOX_URL ?? `http://127.0.0.1:${process.env.HYP_SANDBOX_PORT ?? 8081}/xpo/Relay`;
const audience = process.env.DEVICE_JWT_AUDIENCE ?? 'pos-session-broker';
const tokenFile = process.env.BOOTSTRAP_TOKEN_FILE ?? './data/bootstrap-token';
const terminalNumber = '0882819014';
const mask = (s: string) => `${s.slice(0, 8)}…(${s.length} chars)`;

async function call(method: 'POST' | 'DELETE', url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

function step(n: number, text: string): void {
  process.stdout.write(`\n${n}. ${text}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { provider: { type: 'string', default: 'hyp' } } });
  const provider = values.provider ?? 'hyp';
  // Asked first, so that a broker that is not running is named as such (not as a failed retry).
  await request(`${broker}/health/live`).then((res) => res.body.dump());
  if (provider !== 'hyp') {
    if (!(provider in DEMO_PROVIDER_TERMINALS)) throw new Error(`--provider must be one of hyp, ${Object.keys(DEMO_PROVIDER_TERMINALS).join(', ')}`);
    return providerDemo(provider as keyof typeof DEMO_PROVIDER_TERMINALS);
  }
  let bootstrapToken: string;
  try {
    bootstrapToken = readFileSync(tokenFile, 'utf8').trim();
  } catch {
    throw new Error(`No bootstrap token at ${tokenFile}: start the broker first with \`npm start\`.`);
  }

  // The demo device keeps its identity (key and enrollment) between runs, as a real POS does.
  const store = new FileKeyStore(process.env.DEMO_DEVICE_FILE ?? './data/demo-device.json');
  let saved = await store.load();
  if (saved && (saved.brokerUrl !== broker || !saved.terminalNumbers.includes(terminalNumber))) saved = undefined;
  let key: DeviceKey;
  let deviceId: string;
  let keyId: string;
  if (saved) {
    step(1, `The POS device loads its key and enrollment from ${store.path} (kept from an earlier run, mode 0600).`);
    key = await importPrivateJwk(saved.privateJwk);
    ({ deviceId, keyId } = saved);
    step(2, `It is enrolled already: device ${deviceId}, bound to ${terminalNumber}.`);
  } else {
    step(1, 'The POS device makes its own ES256 key pair with the SDK (WebCrypto; the private key never leaves it).');
    key = await generateDeviceKey({ extractable: true });
    step(2, `It enrolls itself through the embedded bootstrap: POST ${broker}/v1/bootstrap/devices`);
    const enrolled = await call(
      'POST',
      `${broker}/v1/bootstrap/devices`,
      {
        name: `demo-pos-${randomUUID().slice(0, 8)}`,
        publicKey: key.publicJwk,
        terminalNumbers: [terminalNumber],
        policy: { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] },
      },
      { authorization: `Bearer ${bootstrapToken}` },
    );
    if (enrolled.status !== 201) throw new Error(`enrollment failed: ${enrolled.status} ${JSON.stringify(enrolled.body)}`);
    deviceId = String(enrolled.body.deviceId);
    keyId = String(enrolled.body.keyId);
    await store.save({
      brokerUrl: broker,
      deviceId,
      keyId,
      alg: key.alg,
      audience,
      terminalNumbers: [terminalNumber],
      privateJwk: await exportPrivateJwk(key),
    });
    process.stdout.write(`   -> 201, device ${deviceId}, bound to ${terminalNumber}, policy doDeal/AutoComm/Credit (kept in ${store.path})\n`);
  }
  const client = new BrokerClient({ brokerUrl: broker, deviceId, keyId, key, audience, softwareVersion: 'demo-1.0' });

  step(3, 'It asks the broker for a scoped session (the SDK signs a fresh JWT, with an Idempotency-Key): POST /v1/sessions');
  const issued = await client.createSession({ terminalNumber, scope: { command: 'doDeal', validation: 'autoComm', transactionType: 'credit' } });
  const sessionId = issued.sessionId;
  process.stdout.write(
    `   -> 201, sessionId ${mask(sessionId)}, expires in ${issued.expiresIn} s, scope ${JSON.stringify(issued.scope)}, requestId ${issued.requestId}\n`,
  );

  step(4, `It pays with the session on the Hyp sandbox (no merchant password on the device): POST ${sandbox}`);
  const deal = buildDoDealRequest({
    terminalNumber,
    validation: 'AutoComm',
    transactionType: 'Credit',
    total: '1250',
    cardNo: '4580000000000000',
    cardExpiration: '1230',
  });
  const payOnce = async () => {
    const res = await request(sandbox, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ sessionId, int_in: deal }).toString(),
    });
    return parseHypResponse(await res.body.text());
  };
  const paid = await payOnce();
  process.stdout.write(`   -> result ${paid.result} (${paid.message})\n`);

  step(5, 'The session is single use: the sandbox refuses it a second time.');
  const again = await payOnce();
  process.stdout.write(`   -> result ${again.result} (${again.message})\n`);

  step(6, 'The same JWT twice is a replay: the broker refuses the second (the SDK never reuses one; here it is sent by hand).');
  const token = await signDeviceToken(key, { deviceId, keyId, audience });
  const body = { terminalNumber, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } };
  await call('POST', `${broker}/v1/sessions`, body, { authorization: `Bearer ${token}` });
  const replay = await call('POST', `${broker}/v1/sessions`, body, { authorization: `Bearer ${token}` });
  process.stdout.write(`   -> ${replay.status} ${String(replay.body.title)}\n`);

  step(7, 'A scope outside the device policy (refundDeal) is refused: a typed BrokerProblemError.');
  show(await attempt(() => client.createSession({ terminalNumber, scope: { command: 'refundDeal' } })));

  showTrail();
}

/** A device enrolled through the bootstrap for one terminal; the SDK signs a fresh JWT per call. */
async function enrollDemoDevice(terminalNumber: string, policy: object) {
  const bootstrapToken = readBootstrapToken();
  const key = await generateDeviceKey();
  const enrolled = await call(
    'POST',
    `${broker}/v1/bootstrap/devices`,
    { name: `demo-pos-${randomUUID().slice(0, 8)}`, publicKey: key.publicJwk, terminalNumbers: [terminalNumber], policy },
    { authorization: `Bearer ${bootstrapToken}` },
  );
  if (enrolled.status !== 201) throw new Error(`enrollment failed: ${enrolled.status} ${JSON.stringify(enrolled.body)}`);
  const deviceId = String(enrolled.body.deviceId);
  const client = new BrokerClient({ brokerUrl: broker, deviceId, keyId: String(enrolled.body.keyId), key, audience, softwareVersion: 'demo-1.0' });
  return {
    deviceId,
    session: (scope: Record<string, unknown>) => attempt(() => client.createSession({ terminalNumber, scope })),
    close: (sessionId: string) => attempt(() => client.closeSession(sessionId).then(() => 'closed' as const)),
  };
}

/** The call's result, or the broker's refusal (typed from its problem+json) to show. */
async function attempt<T>(fn: () => Promise<T>): Promise<T | BrokerProblemError> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BrokerProblemError) return err;
    throw err;
  }
}

function readBootstrapToken(): string {
  try {
    return readFileSync(tokenFile, 'utf8').trim();
  } catch {
    throw new Error(`No bootstrap token at ${tokenFile}: start the broker first with \`npm start\`.`);
  }
}

function show(res: Session | 'closed' | BrokerProblemError): void {
  if (res === 'closed') {
    process.stdout.write('   -> 204, closed\n');
  } else if (res instanceof BrokerProblemError) {
    process.stdout.write(`   -> ${res.status} ${res.title}: ${res.detail}\n`);
  } else {
    process.stdout.write(
      `   -> 201, ${res.provider} session ${mask(res.sessionId)}, expiresIn ${res.expiresIn === null ? 'open until closed' : `${res.expiresIn} s`}, reusable ${res.reusable}, scope ${JSON.stringify(res.scope)}\n`,
    );
  }
}

/** The same device story against the Payroc, embedded-component or wallet demo terminal. */
async function providerDemo(provider: keyof typeof DEMO_PROVIDER_TERMINALS): Promise<void> {
  const terminalNumber = DEMO_PROVIDER_TERMINALS[provider];
  const lib = '1.6.0.172441';
  const policies = {
    payroc: { payroc: { libVersions: [lib] } },
    'embedded-components': { 'embedded-components': { gateway: true } },
    wallet: { wallet: { walletIds: ['2sdflsd'] } },
  };
  step(1, `A POS device enrolls for terminal ${terminalNumber} (${provider}) with policy ${JSON.stringify(policies[provider])}.`);
  const device = await enrollDemoDevice(terminalNumber, { allowUnscoped: false, allowed: [], providers: policies[provider] });
  process.stdout.write(`   -> device ${device.deviceId}\n`);

  if (provider === 'payroc') {
    step(2, `It asks for a Hosted Fields session for library ${lib} (the broker gets a bearer token, then the session token).`);
    show(await device.session({ libVersion: lib }));
    step(3, 'Again: the bearer token is cached, the Idempotency-Key is new, the session token is new.');
    show(await device.session({ libVersion: lib }));
    step(4, 'A library version outside its policy is refused, before any call to Payroc.');
    show(await device.session({ libVersion: '1.2.0-beta.135020' }));
    step(5, 'A scope without libVersion is invalid for a Payroc terminal.');
    show(await device.session({}));
  } else if (provider === 'embedded-components') {
    step(2, 'It asks for a gateway component session (the backend key never leaves the broker).');
    show(await device.session({ gateway: true }));
    step(3, 'Before it expires the component asks again: a new token, a new audit record.');
    show(await device.session({ gateway: true }));
    step(4, 'Naming both gateway and merchant-central is refused with 400, before any outbound call.');
    show(await device.session({ gateway: true, 'merchant-central': true }));
    step(5, 'merchant-central is outside its policy.');
    show(await device.session({ 'merchant-central': true }));
  } else {
    step(2, 'It opens a signed wallet session on wallet 2sdflsd (x-signature = SHA-1 of query string + key).');
    const opened = await device.session({ walletId: '2sdflsd' });
    show(opened);
    if (opened instanceof BrokerProblemError) return;
    const sessionId = opened.sessionId;
    step(3, 'Another device tries to close it: refused (the audit trail says whose it is).');
    const other = await enrollDemoDevice(terminalNumber, { allowUnscoped: false, allowed: [], providers: policies.wallet });
    show(await other.close(sessionId));
    step(4, 'The owner closes it: forwarded to the wallet, audited.');
    show(await device.close(sessionId));
    step(5, 'Closing it again is not an error.');
    show(await device.close(sessionId));
  }
  showTrail();
}

/** Where to see what the demo did: the trail, through the auditor API or the console. */
function showTrail(): void {
  process.stdout.write(
    [
      '',
      'Every step above left audit events in the trail. See them as an auditor:',
      `  TOKEN=$(npm run -s cli -- operator:token --roles auditor)`,
      `  curl -s -H "Authorization: Bearer $TOKEN" "${broker}/v1/audit/events?limit=20"`,
      `or in the console: ${broker}/console/ (Sign in (development) as auditor, then Audit).`,
      '',
    ].join('\n'),
  );
}

/** A broker that is not running shows up as a refused connection somewhere in the error's causes. */
function brokerNotAnswering(err: unknown): boolean {
  for (let e: unknown = err; e !== null && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT') return true;
  }
  return false;
}

void main().catch((err: unknown) => {
  if (brokerNotAnswering(err)) {
    process.stderr.write(`The broker is not answering at ${broker}: start it first with \`npm start\` (in another terminal), or set BROKER_URL.\n`);
  } else {
    process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  }
  process.exit(1);
});
