import pino from 'pino';
import { REDACTED_PATHS, redactSessionPath } from './logging';

describe('log redaction', () => {
  it('blanks authorization headers, passwords, sessionIds, tokens and private keys wherever they appear', () => {
    const lines: string[] = [];
    const logger = pino({ redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, { write: (l: string) => lines.push(l) });
    logger.info({
      req: { headers: { authorization: 'Bearer eyJhbGciOiJFUzI1NiJ9.secret-token', cookie: 'sid=abc', 'x-api-key': 'sk_live_123' } },
      gateway: { password: 'merchant-pw-1', sessionId: '3e4cb361-0465-44db-9d46-bd393f0e120d' },
      password: 'top-level-pw',
      sessionId: 'a1b2c3d4-0000-4000-8000-000000000000',
      device: { privateKey: '-----BEGIN PRIVATE KEY-----x', token: 't0k3n' },
    });
    const out = lines.join('');
    for (const secret of ['secret-token', 'sid=abc', 'sk_live_123', 'merchant-pw-1', '3e4cb361', 'top-level-pw', 'a1b2c3d4', 'BEGIN PRIVATE KEY', 't0k3n']) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('[redacted]');
  });

  it('blanks what follows /v1/sessions/ in unrouted paths, however the path is spelled', () => {
    for (const url of ['/v1/sessions/abc', '/v1/%73essions/abc', '/V1/SESSIONS/abc', '//v1//sessions/abc', '/v1/%73%65ssions/abc']) {
      expect(redactSessionPath(url)).toBe('/v1/sessions/[redacted]');
    }
    expect(redactSessionPath('/v1/%73essions/abc?x=1')).toBe('/v1/sessions/[redacted]?x=1');
    expect(redactSessionPath('/v1/sessions')).toBe('/v1/sessions');
    expect(redactSessionPath('/v1/admin/terminals?limit=5')).toBe('/v1/admin/terminals?limit=5');
    expect(redactSessionPath('/v1/%E0%A4%A/x')).toBe('/v1/%E0%A4%A/x');
  });
});
