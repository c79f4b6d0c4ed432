/**
 * `npm run demo`: a scripted POS device against the embedded broker (`npm start`).
 * It enrolls itself with the local bootstrap token, signs its own JWT, gets a scoped sessionId,
 * pays with it on the Hyp sandbox, and shows what the broker and the sandbox refuse.
 * `npm run demo -- --provider payroc` (or embedded-components, wallet) runs the same device
 * against that provider's demo terminal instead.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { config as loadDotenv } from 'dotenv';
import { sign } from 'jsonwebtoken';
import { request } from 'undici';
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

  step(1, 'The POS device makes its own ES256 key pair (the private key never leaves it).');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  step(2, `It enrolls itself through the embedded bootstrap: POST ${broker}/v1/bootstrap/devices`);
  const enrolled = await call(
    'POST',
    `${broker}/v1/bootstrap/devices`,
    {
      name: `demo-pos-${randomUUID().slice(0, 8)}`,
      publicKey: publicKey.export({ format: 'jwk' }),
      terminalNumbers: [terminalNumber],
      policy: { allowUnscoped: false, allowed: [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }] },
    },
    { authorization: `Bearer ${bootstrapToken}` },
  );
  if (enrolled.status !== 201) throw new Error(`enrollment failed: ${enrolled.status} ${JSON.stringify(enrolled.body)}`);
  const deviceId = String(enrolled.body.deviceId);
  const keyId = String(enrolled.body.keyId);
  process.stdout.write(`   -> 201, device ${deviceId}, bound to ${terminalNumber}, policy doDeal/AutoComm/Credit\n`);

  const jwtFor = () =>
    sign({}, privateKey, { algorithm: 'ES256', keyid: keyId, subject: deviceId, audience, expiresIn: 60, jwtid: randomUUID() });

  step(3, 'It asks the broker for a scoped session with a fresh JWT: POST /v1/sessions');
  const token = jwtFor();
  const issued = await call(
    'POST',
    `${broker}/v1/sessions`,
    { terminalNumber, scope: { command: 'doDeal', validation: 'autoComm', transactionType: 'credit' } },
    { authorization: `Bearer ${token}` },
  );
  if (issued.status !== 201) throw new Error(`session refused: ${issued.status} ${JSON.stringify(issued.body)}`);
  const sessionId = String(issued.body.sessionId);
  process.stdout.write(
    `   -> 201, sessionId ${mask(sessionId)}, expires in ${issued.body.expiresIn} s, scope ${JSON.stringify(issued.body.scope)}, requestId ${issued.body.requestId}\n`,
  );

  step(4, `It pays with the session on the Hyp sandbox (no merchant password on the device): POST ${sandbox}`);
  const deal = buildDoDealRequest({ terminalNumber, validation: 'AutoComm', transactionType: 'Credit', total: '1250', cardNo: '4580000000000000', cardExpiration: '1230' });
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

  step(6, 'The same JWT again is a replay: the broker refuses it.');
  const replay = await call('POST', `${broker}/v1/sessions`, { terminalNumber, scope: { command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' } }, { authorization: `Bearer ${token}` });
  process.stdout.write(`   -> ${replay.status} ${replay.body.title}\n`);

  step(7, 'A scope outside the device policy (refundDeal) is refused.');
  const outside = await call('POST', `${broker}/v1/sessions`, { terminalNumber, scope: { command: 'refundDeal' } }, { authorization: `Bearer ${jwtFor()}` });
  process.stdout.write(`   -> ${outside.status} ${outside.body.title}: ${outside.body.detail}\n`);

  process.stdout.write('\nEvery step above left audit events in the broker\'s database (table audit_event).\n');
}

/** A device enrolled through the bootstrap for one terminal, signing a fresh JWT per call. */
async function enrollDemoDevice(terminalNumber: string, policy: object) {
  const bootstrapToken = readBootstrapToken();
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const enrolled = await call(
    'POST',
    `${broker}/v1/bootstrap/devices`,
    { name: `demo-pos-${randomUUID().slice(0, 8)}`, publicKey: publicKey.export({ format: 'jwk' }), terminalNumbers: [terminalNumber], policy },
    { authorization: `Bearer ${bootstrapToken}` },
  );
  if (enrolled.status !== 201) throw new Error(`enrollment failed: ${enrolled.status} ${JSON.stringify(enrolled.body)}`);
  const deviceId = String(enrolled.body.deviceId);
  const keyId = String(enrolled.body.keyId);
  const auth = () => ({
    authorization: `Bearer ${sign({}, privateKey, { algorithm: 'ES256', keyid: keyId, subject: deviceId, audience, expiresIn: 60, jwtid: randomUUID() })}`,
  });
  return {
    deviceId,
    session: (scope: unknown) => call('POST', `${broker}/v1/sessions`, { terminalNumber, scope }, auth()),
    close: (sessionId: string) => call('DELETE', `${broker}/v1/sessions/${encodeURIComponent(sessionId)}`, undefined, auth()),
  };
}

function readBootstrapToken(): string {
  try {
    return readFileSync(tokenFile, 'utf8').trim();
  } catch {
    throw new Error(`No bootstrap token at ${tokenFile}: start the broker first with \`npm start\`.`);
  }
}

function show(res: { status: number; body: Record<string, unknown> }): void {
  const b = res.body;
  if (res.status < 300 && typeof b.sessionId === 'string') {
    process.stdout.write(
      `   -> ${res.status}, ${b.provider} session ${mask(b.sessionId)}, expiresIn ${b.expiresIn === null ? 'open until closed' : `${b.expiresIn} s`}, reusable ${b.reusable}, scope ${JSON.stringify(b.scope)}\n`,
    );
  } else {
    process.stdout.write(`   -> ${res.status}${b.title ? ` ${b.title}: ${b.detail}` : ''}\n`);
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
    const sessionId = String(opened.body.sessionId);
    step(3, 'Another device tries to close it: refused (the audit trail says whose it is).');
    const other = await enrollDemoDevice(terminalNumber, { allowUnscoped: false, allowed: [], providers: policies.wallet });
    show(await other.close(sessionId));
    step(4, 'The owner closes it: forwarded to the wallet, audited.');
    show(await device.close(sessionId));
    step(5, 'Closing it again is not an error.');
    show(await device.close(sessionId));
  }
  process.stdout.write("\nEvery step above left audit events in the broker's database (table audit_event).\n");
}

void main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exit(1);
});
