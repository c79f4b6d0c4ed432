import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { GatewayProtocolError } from '../../common/errors';

/** Hyp answers are a few hundred bytes; anything near this is not a getSessionId answer. */
export const MAX_HYP_XML_BYTES = 65_536;

export interface GetSessionIdRequestInput {
  readonly terminalNumber: string;
  readonly requestId: string;
  readonly scope?: { readonly command?: string; readonly validation?: string; readonly transactionType?: string };
}

export interface DoDealRequestInput {
  readonly terminalNumber: string;
  readonly validation: string;
  readonly transactionType: string;
  /** In the smallest currency unit (agorot), as Hyp expects. */
  readonly total: string | number;
  readonly currency?: string;
  readonly cardNo?: string;
  readonly cardExpiration?: string;
  readonly cvv?: string;
  readonly creditType?: string;
  readonly transactionCode?: string;
}

export interface HypResponse {
  readonly command: string | undefined;
  readonly result: string | undefined;
  readonly message: string | undefined;
  readonly userMessage: string | undefined;
  readonly additionalInfo: string | undefined;
  readonly tranId: string | undefined;
  readonly requestId: string | undefined;
  readonly sessionId: string | undefined;
  readonly sessionExpiration: string | undefined;
  readonly sessionReUse: string | undefined;
  /** Leaf fields of a `<doDeal>` answer, when there is one. */
  readonly doDeal?: Record<string, string>;
}

// One instance each: both are stateless between calls and costly to build per request.
const builder = new XMLBuilder({ suppressEmptyNode: true, processEntities: true });

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const ENTITY_REF = /&(?:(amp|lt|gt|quot|apos)|#(\d{1,7})|#x([0-9a-fA-F]{1,6}));/g;

/**
 * processEntities is off so that no DTD-declared entity can ever expand; the five predefined
 * entities and character references cannot expand, so they are decoded here in a single pass.
 */
function decodeCharacterReferences(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(ENTITY_REF, (ref, name: string | undefined, dec: string | undefined, hex: string | undefined) => {
    if (name) return PREDEFINED[name] ?? ref;
    const cp = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
    return cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : ref;
  });
}

const parser = new XMLParser({
  processEntities: false,
  parseTagValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
  ignoreAttributes: true,
  tagValueProcessor: (_tag: string, value: string) => decodeCharacterReferences(value),
});

export function buildGetSessionIdRequest(input: GetSessionIdRequestInput): string {
  const scope: Record<string, string> = {};
  if (input.scope?.command !== undefined) scope.scopeCmd = input.scope.command;
  if (input.scope?.validation !== undefined) scope.validation = input.scope.validation;
  if (input.scope?.transactionType !== undefined) scope.transactionType = input.scope.transactionType;

  const getSessionId: Record<string, unknown> = { terminalNumber: input.terminalNumber };
  if (Object.keys(scope).length > 0) getSessionId.scope = scope;

  return builder.build({
    ashrait: {
      request: {
        version: '2000',
        language: 'Eng',
        dateTime: '',
        requestId: input.requestId,
        command: 'getSessionId',
        getSessionId,
      },
    },
  });
}

export function buildDoDealRequest(input: DoDealRequestInput): string {
  const doDeal: Record<string, string> = { terminalNumber: input.terminalNumber };
  if (input.cardNo !== undefined) doDeal.cardNo = input.cardNo;
  if (input.cardExpiration !== undefined) doDeal.cardExpiration = input.cardExpiration;
  if (input.cvv !== undefined) doDeal.cvv = input.cvv;
  doDeal.total = String(input.total);
  doDeal.transactionType = input.transactionType;
  doDeal.creditType = input.creditType ?? 'RegularCredit';
  doDeal.currency = input.currency ?? 'ILS';
  doDeal.transactionCode = input.transactionCode ?? 'Phone';
  doDeal.validation = input.validation;

  return builder.build({
    ashrait: { request: { version: '2000', language: 'Eng', command: 'doDeal', doDeal } },
  });
}

/** Shared refusals for anything we are about to hand to the XML parser. */
function parseAshrait(xml: string, child: 'request' | 'response'): Record<string, unknown> {
  if (typeof xml !== 'string') throw new GatewayProtocolError('The gateway answer is not text.');
  if (Buffer.byteLength(xml, 'utf8') > MAX_HYP_XML_BYTES) {
    throw new GatewayProtocolError('The gateway answer exceeds the size limit.');
  }
  if (xml.trim() === '') throw new GatewayProtocolError('The gateway answered with an empty body.');
  // A legitimate Hyp message never carries a DTD; refusing it outright rules out entity expansion.
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new GatewayProtocolError('The gateway answer contains a DTD.');

  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  let parsed: unknown;
  try {
    if (XMLValidator.validate(text) !== true) throw new Error('not well-formed');
    parsed = parser.parse(text);
  } catch (err) {
    throw new GatewayProtocolError('The gateway answer is not well-formed XML.', { cause: err });
  }

  const root = asRecord(parsed);
  const ashrait = root && Object.keys(root).length === 1 ? asRecord(root.ashrait) : undefined;
  const inner = ashrait ? asRecord(ashrait[child]) : undefined;
  if (!inner) throw new GatewayProtocolError(`The gateway answer is not an Ashrait ${child}.`);
  return inner;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A leaf's text; empty elements, repeated elements and subtrees all count as absent. */
function leaf(parent: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = parent?.[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function leaves(node: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(node)) {
    const value = leaf(node, key);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

export function parseHypResponse(xml: string): HypResponse {
  const response = parseAshrait(xml, 'response');
  const result = leaf(response, 'result');
  if (result === undefined || !/^\d{3}$/.test(result)) {
    throw new GatewayProtocolError('The gateway answer has no valid result code.');
  }
  const session = asRecord(response.getSessionId);
  const doDeal = asRecord(response.doDeal);
  return {
    command: leaf(response, 'command'),
    result,
    message: leaf(response, 'message'),
    userMessage: leaf(response, 'userMessage'),
    additionalInfo: leaf(response, 'additionalInfo'),
    tranId: leaf(response, 'tranId'),
    requestId: leaf(response, 'requestId'),
    sessionId: leaf(session, 'sessionId'),
    sessionExpiration: leaf(session, 'sessionExpiration'),
    sessionReUse: leaf(session, 'sessionReUse'),
    ...(doDeal ? { doDeal: leaves(doDeal) } : {}),
  };
}

/** The `ashrait.request` element, for the sandbox; same refusals as for responses. */
export function parseHypRequest(xml: string): Record<string, unknown> {
  return parseAshrait(xml, 'request');
}
