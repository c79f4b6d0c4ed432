import { HYP_SCOPE_COMMANDS, HYP_TRANSACTION_TYPES, HYP_VALIDATIONS, canonicalize } from './hyp-scope';

describe('Hyp scope values', () => {
  it('lists exactly the documented values', () => {
    expect(HYP_SCOPE_COMMANDS).toEqual([
      'doDeal',
      'addCgInvoice',
      'cancelDeal',
      'inquireInvoice',
      'refundCgInvoice',
      'refundDeal',
      'transmitInquire',
      'transmitTerminal',
    ]);
    expect(HYP_VALIDATIONS).toEqual(['AutoComm', 'Verify', 'Normal', 'Token', 'TxnSetup', 'AutoCommHold', 'AutoCommRelease']);
    expect(HYP_TRANSACTION_TYPES).toEqual(['Debit', 'Credit', 'Forced', 'CashBack', 'Cash', 'RecurringDebit', 'BalanceEnquiry', 'Load', 'Discharge']);
  });

  it.each([
    [HYP_VALIDATIONS, 'autoComm', 'AutoComm'],
    [HYP_VALIDATIONS, 'AUTOCOMMRELEASE', 'AutoCommRelease'],
    [HYP_SCOPE_COMMANDS, 'DODEAL', 'doDeal'],
    [HYP_TRANSACTION_TYPES, 'credit', 'Credit'],
    [HYP_TRANSACTION_TYPES, 'Cash', 'Cash'],
  ])('canonicalizes %#: %s', (list, value, expected) => {
    expect(canonicalize(list, value)).toBe(expected);
  });

  it.each([
    [HYP_VALIDATIONS, 'Credit'],
    [HYP_VALIDATIONS, ' AutoComm'],
    [HYP_VALIDATIONS, ''],
    [HYP_SCOPE_COMMANDS, 'getSessionId'],
    [HYP_SCOPE_COMMANDS, 'constructor'],
    [HYP_TRANSACTION_TYPES, '__proto__'],
  ])('rejects %#: %s', (list, value) => {
    expect(canonicalize(list, value)).toBeUndefined();
  });

  it('works for any list, not only the documented ones', () => {
    expect(canonicalize(['FooBar'], 'foobar')).toBe('FooBar');
  });
});
