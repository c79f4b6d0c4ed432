/** Hyp's "Permitted transaction". */
export const HYP_SUCCESS = '000';

export interface HypResultMapping {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly transient: boolean;
  readonly detail: string;
}

type Kind = Omit<HypResultMapping, 'detail'> & { readonly meaning: string };

const GENERAL: Kind = { status: 502, code: 'gateway-error', title: 'Gateway error', transient: false, meaning: 'gateway general error' };

const KNOWN: ReadonlyMap<string, Kind> = new Map<string, Kind>([
  [
    '405',
    { status: 502, code: 'gateway-merchant-auth-failed', title: 'Merchant authentication failed', transient: false, meaning: 'merchant authentication failed' },
  ],
  [
    '455',
    {
      status: 502,
      code: 'gateway-terminal-not-enabled',
      title: 'Terminal not enabled for sessions',
      transient: false,
      meaning: 'terminal not enabled for sessions',
    },
  ],
  ['456', { status: 502, code: 'gateway-session-timeout', title: 'Gateway session timeout', transient: false, meaning: 'merchant session timeout' }],
  // The only code Hyp documents as "retry": nothing was issued, so asking again is safe.
  [
    '457',
    { status: 503, code: 'gateway-session-generation-failed', title: 'Session generation failed', transient: true, meaning: 'session ID generation failed' },
  ],
  ['303', GENERAL],
  ['308', GENERAL],
  ['354', GENERAL],
  ['444', GENERAL],
]);

/**
 * How a non-success Hyp result reaches the device. The detail is built only from the code and our
 * own wording: Hyp's message texts are not ours to show (and may say more than a device should see).
 */
export function mapHypResult(code: string): HypResultMapping {
  const known = KNOWN.get(code);
  // The code is echoed to the caller, so only a well-formed one is.
  const shown = /^\d{3}$/.test(code) ? `result ${code}` : 'a malformed result';
  const { meaning, ...kind } = known ?? { ...GENERAL, meaning: 'unrecognised result code' };
  return { ...kind, detail: `The Hyp gateway refused the request with ${shown} (${meaning}).` };
}
