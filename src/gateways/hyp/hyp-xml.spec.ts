import { GatewayProtocolError } from '../../common/errors';
import { buildDoDealRequest, buildGetSessionIdRequest, parseHypRequest, parseHypResponse } from './hyp-xml';
import { SEED_ERROR_405, SEED_SUCCESS } from '../../../test/support/hyp-seed-fixtures';

// Verbatim from the Hyp getSessionId documentation (the seed).
const SEED_REQUEST = `<ashrait>
    <request>
        <version>2000</version>
        <language>Eng</language>
        <dateTime/>
        <requestId/>
        <command>getSessionId</command>
        <getSessionId>
            <terminalNumber>{terminalNumber}</terminalNumber>
            <scope>
                <scopeCmd>doDeal</scopeCmd>
                <validation>autoComm</validation>
                <transactionType>Credit</transactionType>
            </scope>
        </getSessionId>
    </request>
</ashrait>`;

const compact = (xml: string) => xml.replace(/>\s+</g, '><').trim();

const response = (inner: string) => `<ashrait><response>${inner}</response></ashrait>`;

function protocolError(fn: () => unknown): GatewayProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayProtocolError);
    return err as GatewayProtocolError;
  }
  throw new Error('expected a GatewayProtocolError');
}

describe('buildGetSessionIdRequest', () => {
  it('reproduces the documented request byte for byte (whitespace between tags aside)', () => {
    const xml = buildGetSessionIdRequest({
      terminalNumber: '0882819014',
      requestId: '',
      scope: { command: 'doDeal', validation: 'autoComm', transactionType: 'Credit' },
    });
    expect(xml).toBe(compact(SEED_REQUEST.replace('{terminalNumber}', '0882819014')));
  });

  it('omits the scope when no part is given, and absent parts individually', () => {
    expect(buildGetSessionIdRequest({ terminalNumber: '0882819014', requestId: 'r-1' })).toBe(
      '<ashrait><request><version>2000</version><language>Eng</language><dateTime/><requestId>r-1</requestId>' +
        '<command>getSessionId</command><getSessionId><terminalNumber>0882819014</terminalNumber></getSessionId>' +
        '</request></ashrait>',
    );
    expect(buildGetSessionIdRequest({ terminalNumber: '1', requestId: '', scope: {} })).not.toContain('<scope');
    const partial = buildGetSessionIdRequest({ terminalNumber: '1', requestId: '', scope: { command: 'refundDeal', transactionType: 'Debit' } });
    expect(partial).toContain('<scope><scopeCmd>refundDeal</scopeCmd><transactionType>Debit</transactionType></scope>');
    expect(partial).not.toContain('validation');
  });

  it('escapes values so no input can add elements', () => {
    const xml = buildGetSessionIdRequest({
      terminalNumber: '</terminalNumber><x>',
      requestId: 'a&b"c',
      scope: { command: "doDeal'><evil/>" },
    });
    expect(xml).not.toContain('<x>');
    expect(xml).not.toContain('<evil');
    expect(xml).toContain('<terminalNumber>&lt;/terminalNumber&gt;&lt;x&gt;</terminalNumber>');
    expect(xml).toContain('<requestId>a&amp;b&quot;c</requestId>');
    // Round trip: the gateway reads back exactly what was given.
    const request = parseHypRequest(xml);
    expect((request.getSessionId as Record<string, unknown>).terminalNumber).toBe('</terminalNumber><x>');
    expect(request.requestId).toBe('a&b"c');
  });

  it('does not normalize values', () => {
    expect(buildGetSessionIdRequest({ terminalNumber: ' 1 ', requestId: '', scope: { validation: 'aUtOcOmM' } })).toContain(
      '<terminalNumber> 1 </terminalNumber><scope><validation>aUtOcOmM</validation></scope>',
    );
  });
});

describe('buildDoDealRequest', () => {
  it('builds a minimal doDeal in Ashrait order with defaults', () => {
    expect(
      buildDoDealRequest({
        terminalNumber: '0882819014',
        cardNo: '4580000000000000',
        cardExpiration: '1230',
        total: 100,
        transactionType: 'Credit',
        validation: 'AutoComm',
      }),
    ).toBe(
      '<ashrait><request><version>2000</version><language>Eng</language><command>doDeal</command><doDeal>' +
        '<terminalNumber>0882819014</terminalNumber><cardNo>4580000000000000</cardNo><cardExpiration>1230</cardExpiration>' +
        '<total>100</total><transactionType>Credit</transactionType><creditType>RegularCredit</creditType>' +
        '<currency>ILS</currency><transactionCode>Phone</transactionCode><validation>AutoComm</validation>' +
        '</doDeal></request></ashrait>',
    );
  });

  it('honours currency and cvv, and escapes', () => {
    const xml = buildDoDealRequest({ terminalNumber: '1', total: '5', transactionType: 'Debit', validation: 'Verify', currency: 'USD', cvv: '1<2' });
    expect(xml).toContain('<cvv>1&lt;2</cvv><total>5</total>');
    expect(xml).toContain('<currency>USD</currency>');
  });
});

describe('parseHypResponse', () => {
  it('reads the documented success response', () => {
    expect(parseHypResponse(SEED_SUCCESS)).toEqual({
      command: 'getSessionId',
      result: '000',
      message: 'Permitted transaction',
      userMessage: 'Permitted transaction',
      additionalInfo: undefined,
      tranId: '119295603',
      requestId: undefined,
      sessionId: '3e4cb361-0465-44db-9d46-bd393f0e120d',
      sessionExpiration: '600',
      sessionReUse: '1',
    });
  });

  it('reads the documented 405 response with empty session fields as undefined', () => {
    expect(parseHypResponse(SEED_ERROR_405)).toEqual({
      command: 'getSessionId',
      result: '405',
      message: 'SSL HTTPS customers are not permitted to access the system',
      userMessage: 'Please contact System Administration',
      additionalInfo: 'Merchant authentication error!',
      tranId: '119295893',
      requestId: undefined,
      sessionId: undefined,
      sessionExpiration: undefined,
      sessionReUse: undefined,
    });
  });

  it('keeps leading zeros and Hebrew text as they are', () => {
    const parsed = parseHypResponse(
      `<?xml version="1.0" encoding="UTF-8"?>${response('<result>000</result><tranId>000123</tranId><userMessage>עסקה תקינה</userMessage>')}`,
    );
    expect(parsed.result).toBe('000');
    expect(parsed.tranId).toBe('000123');
    expect(parsed.userMessage).toBe('עסקה תקינה');
  });

  it('accepts a single-quoted declaration and a byte order mark', () => {
    expect(parseHypResponse(`\uFEFF<?xml version='1.0' encoding='UTF-8'?>\n${response('<result>456</result>')}`).result).toBe('456');
  });

  it('decodes predefined entities and character references but nothing else', () => {
    const parsed = parseHypResponse(
      response('<result>000</result><message>a &amp; b &#x5D0; &#1488; &lt;x&gt;</message><additionalInfo>&foo;</additionalInfo>'),
    );
    expect(parsed.message).toBe('a & b א א <x>');
    expect(parsed.additionalInfo).toBe('&foo;');
  });

  it('returns doDeal leaf fields', () => {
    const parsed = parseHypResponse(
      response('<command>doDeal</command><result>000</result><doDeal><status>000</status><total>100</total><x><y>1</y></x></doDeal>'),
    );
    expect(parsed.doDeal).toEqual({ status: '000', total: '100' });
    expect(parseHypResponse(SEED_SUCCESS).doDeal).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['whitespace only', ' \r\n\t '],
    ['plain text', 'Service Unavailable'],
    ['HTML page', '<html><head><title>Error</title></head><body><h1>502 Bad Gateway</h1></body></html>'],
    ['HTML page with doctype', '<!doctype html><html><body>oops</body></html>'],
    ['JSON', '{"result":"000"}'],
    ['truncated XML', SEED_SUCCESS.slice(0, SEED_SUCCESS.indexOf('<sessionExpiration>'))],
    ['mismatched tags', response('<result>000</message>')],
    ['wrong root', '<other><response><result>000</result></response></other>'],
    ['request instead of response', '<ashrait><request><result>000</result></request></ashrait>'],
    ['two roots', `${response('<result>000</result>')}<ashrait/>`],
    ['missing result', response('<command>getSessionId</command><message>x</message>')],
    ['empty result', response('<result/>')],
    ['non-numeric result', response('<result>OK</result>')],
    ['four-digit result', response('<result>0000</result>')],
    ['repeated result', response('<result>000</result><result>405</result>')],
  ])('refuses %s', (_name, xml) => {
    protocolError(() => parseHypResponse(xml));
  });

  it('refuses a DTD, so entity expansion (billion laughs) never starts', () => {
    const laughs =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
      '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' +
      response('<result>000</result><message>&lol3;</message>');
    expect(protocolError(() => parseHypResponse(laughs)).message).toMatch(/DTD/);
    protocolError(() => parseHypResponse(laughs.replace('DOCTYPE', 'doctype')));
    protocolError(() => parseHypResponse(response('<result>000</result><!ENTITY x "y">')));
    protocolError(() => parseHypResponse('<!DOCTYPE x SYSTEM "file:///etc/passwd">' + response('<result>000</result>')));
  });

  it('refuses more than 64 KiB, counted in UTF-8 bytes', () => {
    const pad = (n: number) => response(`<result>000</result><message>${'x'.repeat(n)}</message>`);
    const overhead = Buffer.byteLength(pad(0));
    expect(parseHypResponse(pad(65_536 - overhead)).result).toBe('000');
    expect(protocolError(() => parseHypResponse(pad(65_537 - overhead))).message).toMatch(/size/);
    // 'א' is two bytes: fewer than 64 Ki characters, more than 64 KiB.
    const hebrew = response(`<result>000</result><message>${'א'.repeat(40_000)}</message>`);
    expect(hebrew.length).toBeLessThan(65_536);
    protocolError(() => parseHypResponse(hebrew));
  });

  it('never lets the gateway text into the error detail', () => {
    const err = protocolError(() => parseHypResponse('<html><body>secret-internal-hostname</body></html>'));
    expect(err.detail).not.toContain('secret-internal-hostname');
  });
});

describe('parseHypRequest', () => {
  it('returns the request element of a built request', () => {
    const request = parseHypRequest(buildGetSessionIdRequest({ terminalNumber: '0882819014', requestId: '', scope: { command: 'doDeal' } }));
    expect(request).toMatchObject({
      version: '2000',
      command: 'getSessionId',
      requestId: '',
      getSessionId: { terminalNumber: '0882819014', scope: { scopeCmd: 'doDeal' } },
    });
  });

  it('applies the same refusals', () => {
    protocolError(() => parseHypRequest(SEED_SUCCESS));
    protocolError(() => parseHypRequest('<!DOCTYPE a><ashrait><request/></ashrait>'));
    protocolError(() => parseHypRequest('<ashrait><request><command>x</command>'));
  });
});
