import { XMLBuilder } from 'fast-xml-parser';

/** Hyp writes its declaration with single quotes; clients must cope, so the sandbox does too. */
const DECLARATION = "<?xml version='1.0'?>\n";

const builder = new XMLBuilder({ format: true, indentBy: '    ', suppressEmptyNode: true });

interface ResultText {
  readonly message: string;
  readonly userMessage: string;
  readonly additionalInfo: string;
}

const GENERAL: ResultText = { message: 'Gateway general error', userMessage: 'Gateway general error', additionalInfo: '' };

/** Texts as the Hyp documentation gives them. */
const TEXTS: ReadonlyMap<string, ResultText> = new Map([
  ['000', { message: 'Permitted transaction', userMessage: 'Permitted transaction', additionalInfo: '' }],
  [
    '405',
    {
      message: 'SSL HTTPS customers are not permitted to access the system',
      userMessage: 'Please contact System Administration',
      additionalInfo: 'Merchant authentication error!',
    },
  ],
  ['455', { message: 'Merchant does not support session id', userMessage: 'Merchant does not support session id', additionalInfo: '' }],
  ['456', { message: 'Merchant session timeout', userMessage: 'Merchant session timeout', additionalInfo: '' }],
  ['457', { message: 'Session id generation failed', userMessage: 'Session id generation failed', additionalInfo: '' }],
]);

export interface Envelope {
  readonly command: string;
  readonly dateTime: string;
  readonly requestId: string;
  readonly tranId: string;
  readonly result: string;
}

export interface IssuedSession {
  readonly sessionId: string;
  readonly sessionExpiration: number;
  readonly sessionReUse: boolean;
}

/** `YYYY-MM-DD HH:mm` in the sandbox's local time, as Hyp stamps its answers. */
export function hypDateTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

function render(env: Envelope, body: Record<string, unknown>): string {
  const texts = TEXTS.get(env.result) ?? GENERAL;
  const response = {
    command: env.command,
    dateTime: env.dateTime,
    requestId: env.requestId,
    tranId: env.tranId,
    result: env.result,
    message: texts.message,
    userMessage: texts.userMessage,
    additionalInfo: texts.additionalInfo,
    version: '2000',
    language: 'Eng',
    ...body,
  };
  return DECLARATION + builder.build({ ashrait: { response } });
}

/** Success and failure alike carry the getSessionId element; failures leave its fields empty. */
export function getSessionIdResponse(env: Envelope, session?: IssuedSession): string {
  return render(env, {
    getSessionId: {
      sessionId: session?.sessionId ?? '',
      sessionExpiration: session ? String(session.sessionExpiration) : '',
      sessionReUse: session ? (session.sessionReUse ? '1' : '0') : '',
    },
  });
}

/** Any other command's answer: no command element, as we do not simulate what it would contain. */
export function commandResponse(env: Envelope): string {
  return render(env, {});
}

export interface DealEcho {
  readonly terminalNumber: string;
  readonly cardNo?: string;
  readonly total?: string;
  readonly transactionType?: string;
  readonly creditType?: string;
  readonly currency?: string;
  readonly transactionCode?: string;
  readonly validation?: string;
}

export function doDealResponse(env: Envelope, deal: DealEcho): string {
  const fields: Record<string, string> = { status: env.result, statusText: (TEXTS.get(env.result) ?? GENERAL).message };
  fields.terminalNumber = deal.terminalNumber;
  // A real gateway never echoes a PAN, only its last four digits.
  if (deal.cardNo && /^\d{8,19}$/.test(deal.cardNo)) fields.cardMask = `${'*'.repeat(deal.cardNo.length - 4)}${deal.cardNo.slice(-4)}`;
  for (const key of ['total', 'transactionType', 'creditType', 'currency', 'transactionCode', 'validation'] as const) {
    const value = deal[key];
    if (value !== undefined) fields[key] = value;
  }
  return render(env, { doDeal: fields });
}

/** What a broken gateway sends: a success answer cut off mid-element. */
export function truncatedResponse(env: Envelope): string {
  const full = getSessionIdResponse({ ...env, result: '000' });
  return full.slice(0, Math.floor(full.length / 2));
}

export const HTTP_500_PAGE =
  '<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>' + '<body><h1>Internal Server Error</h1></body></html>\n';
