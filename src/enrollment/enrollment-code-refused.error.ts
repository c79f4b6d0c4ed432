import { BrokerError } from '../common/errors';

export type EnrollmentRefusal = 'malformed-code' | 'bad-checksum' | 'unknown-code' | 'expired' | 'revoked' | 'used-up';

/**
 * One answer for every code that cannot be redeemed, whichever the reason, so that a guesser
 * learns nothing (not even that a code exists but has expired). The reason goes to the audit
 * trail only, like AuthenticationError's.
 */
export class EnrollmentCodeRefusedError extends BrokerError {
  readonly status = 400;
  readonly code = 'enrollment-code-refused';
  readonly title = 'Enrollment code not accepted';
  constructor(readonly reason: EnrollmentRefusal) {
    super('The enrollment code is not valid. Check it, or ask for a new one.');
  }
}
