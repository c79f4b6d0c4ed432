/**
 * `npm run demo`: a scripted POS device against the embedded broker (`npm start`).
 * It enrolls itself with the local bootstrap token, signs its own JWT, gets a scoped sessionId,
 * pays with it on the Hyp sandbox, and shows what the broker and the sandbox refuse.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { config as loadDotenv } from 'dotenv';
import { sign } from 'jsonwebtoken';
import { request } from 'undici';
import { buildDoDealRequest, parseHypResponse } from '../src/gateways/hyp/hyp-xml';

loadDotenv({ quiet: true });
const broker = process.env.BROKER_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`;
const sandbox = process.env.HYP_SANDBOX_URL ?? `http://127.0.0.1:${process.env.HYP_SANDBOX_PORT ?? 8081}/xpo/Relay`;
const audience = process.env.DEVICE_JWT_AUDIENCE ?? 'pos-session-broker';
const tokenFile = process.env.BOOTSTRAP_TOKEN_FILE ?? './data/bootstrap-token';
const terminalNumber = '0882819014';
const mask = (s: string) => `${s.slice(0, 8)}…(${s.length} chars)`;

async function call(method: 'POST', url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

function step(n: number, text: string): void {
  process.stdout.write(`\n${n}. ${text}\n`);
}

async function main(): Promise<void> {
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

void main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exit(1);
});
