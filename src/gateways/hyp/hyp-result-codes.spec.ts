import { GatewayRejectedError } from '../../common/errors';
import { HYP_SUCCESS, mapHypResult } from './hyp-result-codes';

describe('mapHypResult', () => {
  it.each([
    ['405', 502, 'gateway-merchant-auth-failed', false, 'merchant authentication failed'],
    ['455', 502, 'gateway-terminal-not-enabled', false, 'terminal not enabled for sessions'],
    ['456', 502, 'gateway-session-timeout', false, 'merchant session timeout'],
    ['457', 503, 'gateway-session-generation-failed', true, 'session ID generation failed'],
    ['303', 502, 'gateway-error', false, 'gateway general error'],
    ['308', 502, 'gateway-error', false, 'gateway general error'],
    ['354', 502, 'gateway-error', false, 'gateway general error'],
    ['444', 502, 'gateway-error', false, 'gateway general error'],
    ['999', 502, 'gateway-error', false, 'unrecognised result code'],
    ['001', 502, 'gateway-error', false, 'unrecognised result code'],
  ])('maps %s', (code, status, problem, transient, meaning) => {
    const m = mapHypResult(code);
    expect(m).toMatchObject({ status, code: problem, transient });
    expect(m.title.length).toBeGreaterThan(0);
    expect(m.detail).toBe(`The Hyp gateway refused the request with result ${code} (${meaning}).`);
  });

  it('does not echo a malformed code', () => {
    const m = mapHypResult('<script>');
    expect(m.code).toBe('gateway-error');
    expect(m.detail).not.toContain('<script>');
  });

  it('feeds GatewayRejectedError, with Retry-After only on the transient 503', () => {
    const e457 = new GatewayRejectedError('457', mapHypResult('457'));
    expect([e457.status, e457.transient, e457.gatewayResult, e457.retryAfterSeconds]).toEqual([503, true, '457', 2]);
    const e405 = new GatewayRejectedError('405', mapHypResult('405'));
    expect([e405.status, e405.code, e405.retryAfterSeconds]).toEqual([502, 'gateway-merchant-auth-failed', undefined]);
  });

  it('names success', () => {
    expect(HYP_SUCCESS).toBe('000');
  });
});
