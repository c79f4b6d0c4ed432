import { hypScopeSchema, scopeFitsPolicy } from '../gateways/hyp/hyp-scope.schema';
import { scopePolicySchema } from './scope-policy';

const policy = scopePolicySchema.parse({
  allowUnscoped: false,
  allowed: [{ command: 'doDeal', validation: 'autocomm', transactionType: 'CREDIT' }, { command: 'refundDeal' }],
});

describe('scope policy', () => {
  it('normalises documented values to their documented spelling', () => {
    expect(hypScopeSchema.parse({ command: 'DODEAL', validation: 'autoComm', transactionType: 'recurringdebit' })).toEqual({
      command: 'doDeal',
      validation: 'AutoComm',
      transactionType: 'RecurringDebit',
    });
    expect(policy.allowed[0]).toEqual({ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' });
  });

  it.each([
    [{ command: 'doDeal', validation: 'AutoComm', transactionType: 'Credit' }, true],
    [{ command: 'doDeal', validation: 'AutoComm' }, false], // broader than the rule: any transaction type
    [{ command: 'doDeal' }, false],
    [{ command: 'doDeal', validation: 'Verify', transactionType: 'Credit' }, false],
    [{ command: 'refundDeal' }, true],
    [{ command: 'refundDeal', validation: 'Normal', transactionType: 'Debit' }, true], // narrower than a wildcard rule
    [{ command: 'cancelDeal' }, false],
    [undefined, false],
  ])('%j fits: %s', (scope, fits) => {
    expect(scopeFitsPolicy(policy, scope)).toBe(fits);
  });

  it('allows an unscoped session only where the policy says so', () => {
    expect(scopeFitsPolicy({ allowUnscoped: true, allowed: [] }, undefined)).toBe(true);
    expect(scopeFitsPolicy({ allowUnscoped: true, allowed: [] }, { command: 'doDeal' })).toBe(false);
  });

  it('refuses validation or transactionType without command', () => {
    expect(hypScopeSchema.safeParse({ validation: 'AutoComm' }).success).toBe(false);
    expect(hypScopeSchema.safeParse({ transactionType: 'Credit' }).success).toBe(false);
  });
});
