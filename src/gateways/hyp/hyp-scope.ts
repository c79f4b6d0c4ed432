/**
 * The values Hyp documents for a getSessionId `scope`. Devices and policies may spell them in any
 * case (the Hyp docs themselves write `autoComm` next to `AutoComm`); the broker always sends the
 * documented spelling so that policy comparisons and audit records are exact string matches.
 */
export const HYP_SCOPE_COMMANDS = [
  'doDeal',
  'addCgInvoice',
  'cancelDeal',
  'inquireInvoice',
  'refundCgInvoice',
  'refundDeal',
  'transmitInquire',
  'transmitTerminal',
] as const;

export const HYP_VALIDATIONS = ['AutoComm', 'Verify', 'Normal', 'Token', 'TxnSetup', 'AutoCommHold', 'AutoCommRelease'] as const;

export const HYP_TRANSACTION_TYPES = ['Debit', 'Credit', 'Forced', 'CashBack', 'Cash', 'RecurringDebit', 'BalanceEnquiry', 'Load', 'Discharge'] as const;

export type HypScopeCommand = (typeof HYP_SCOPE_COMMANDS)[number];
export type HypValidation = (typeof HYP_VALIDATIONS)[number];
export type HypTransactionType = (typeof HYP_TRANSACTION_TYPES)[number];

const byList = new WeakMap<readonly string[], ReadonlyMap<string, string>>();

function lowercaseIndex(list: readonly string[]): ReadonlyMap<string, string> {
  let index = byList.get(list);
  if (!index) {
    index = new Map(list.map((v) => [v.toLowerCase(), v]));
    byList.set(list, index);
  }
  return index;
}

// Built eagerly so the request path never pays for it.
for (const list of [HYP_SCOPE_COMMANDS, HYP_VALIDATIONS, HYP_TRANSACTION_TYPES]) lowercaseIndex(list);

/** The documented spelling of `value` in `list`, matched case-insensitively; undefined if not documented. */
export function canonicalize<T extends string>(list: readonly T[], value: string): T | undefined {
  return lowercaseIndex(list).get(value.toLowerCase()) as T | undefined;
}
