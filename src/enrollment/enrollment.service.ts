import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { AuditEventInput } from '../audit/audit-event';
import type { AuditOrigin } from '../http/audit-origin';
import { AuditTransactions } from '../audit/audit-transactions';
import { AuditTrail } from '../audit/audit-trail';
import { BrokerError, ConflictError, NotFoundError, ValidationError } from '../common/errors';
import { validationErrorOf } from '../common/zod-issues';
import { AppConfig } from '../config/app-config';
import { DeviceEnrollment } from '../devices/device-enrollment';
import { devicePublicKey } from '../devices/device-keys';
import { DeviceRepository } from '../devices/device.repository';
import type { OperatorPrincipal } from '../operators/operator';
import { TerminalRepository } from '../terminals/terminal.repository';
import { generateEnrollmentCode, hashEnrollmentCode, readEnrollmentCode } from './enrollment-code';
import { EnrollmentCodeRefusedError } from './enrollment-code-refused.error';
import { EnrollmentCodeRepository, type StoredEnrollmentCode } from './enrollment-code.repository';
import {
  type CreateEnrollmentCode,
  type CreatedEnrollmentCode,
  type EnrollmentCodeRecord,
  type ListEnrollmentCodes,
  redeemEnrollmentCodeSchema,
} from './enrollment.schemas';

export interface EnrolledByCode {
  readonly deviceId: string;
  readonly keyId: string;
  readonly alg: string;
  readonly terminalNumbers: string[];
  /** The `aud` the broker expects in device JWTs (DEVICE_JWT_AUDIENCE), so the device need not be told separately. */
  readonly audience: string;
}

/**
 * One-time enrollment codes: an admin creates one for a set of terminals and a policy; a device
 * redeems it with its own public key. The code is shown once and only its hash is stored.
 */
@Injectable()
export class EnrollmentService {
  private readonly audience: string;
  private readonly publicUrl: string | undefined;

  constructor(
    private readonly codes: EnrollmentCodeRepository,
    private readonly terminals: TerminalRepository,
    private readonly devices: DeviceRepository,
    private readonly enrollment: DeviceEnrollment,
    private readonly audit: AuditTrail,
    private readonly audited: AuditTransactions,
    config: AppConfig,
  ) {
    this.audience = config.values.DEVICE_JWT_AUDIENCE;
    this.publicUrl = config.values.ENROLLMENT_PUBLIC_URL?.replace(/\/+$/, '');
  }

  /** `requestOrigin` (scheme://host of the admin's request) stands in when ENROLLMENT_PUBLIC_URL is not set. */
  async create(input: CreateEnrollmentCode, operator: OperatorPrincipal, origin: AuditOrigin, requestOrigin: string): Promise<CreatedEnrollmentCode> {
    const terminalNumbers = [...new Set(input.terminalNumbers)].sort();
    const found = await this.terminals.findByNumbers(terminalNumbers);
    const missing = terminalNumbers.filter((n) => !found.some((t) => t.terminalNumber === n));
    if (missing.length > 0) throw new ValidationError(`Unknown terminal(s): ${missing.join(', ')}`, [{ path: 'terminalNumbers', message: 'unknown terminal' }]);

    const code = generateEnrollmentCode();
    const id = randomUUID();
    const expiresAt = new Date(Date.now() + input.expiresInSeconds * 1000);
    const after = { name: input.name ?? null, terminalNumbers, policy: input.policy, maxUses: input.maxUses, expiresAt: expiresAt.toISOString() };
    const record = await this.audited.run(async (tx) => ({
      result: await this.codes.create(
        {
          id,
          codeHash: hashEnrollmentCode(readNormalised(code)),
          name: input.name ?? null,
          terminalNumbers,
          policy: input.policy,
          maxUses: input.maxUses,
          expiresAt,
          createdBy: operator.subject,
        },
        tx,
      ),
      // Never the code: whoever reads the trail must not be able to enroll a device with it.
      event: adminEvent('admin.code-created', operator, origin, { enrollmentCodeId: id, after }),
    }));
    // The code goes in the fragment: browsers and HTTP clients never send it to a server.
    const enrollUrl = `${this.publicUrl ?? requestOrigin}/v1/enrollments#code=${code}`;
    return { ...record, code, enrollUrl };
  }

  async list(query: ListEnrollmentCodes): Promise<{ items: EnrollmentCodeRecord[]; total: number; limit: number; offset: number }> {
    const { items, total } = await this.codes.list(query.status, { limit: query.limit, offset: query.offset });
    return { items, total, limit: query.limit, offset: query.offset };
  }

  /** Revoking a revoked code changes nothing and records nothing; an unknown one is 404. */
  async revoke(id: string, operator: OperatorPrincipal, origin: AuditOrigin): Promise<EnrollmentCodeRecord> {
    const revoked = await this.audited
      .run(async (tx) => {
        const record = await this.codes.revoke(id, operator.subject, tx);
        if (!record) throw new NotFoundError(`No enrollment code ${id} that is not revoked already.`);
        return {
          result: record,
          event: adminEvent('admin.code-revoked', operator, origin, { enrollmentCodeId: id, before: { status: 'pending' }, after: { status: 'revoked' } }),
        };
      })
      .catch(async (err: unknown) => {
        const existing = err instanceof NotFoundError ? await this.codes.find(id) : null;
        if (existing) return existing;
        throw err instanceof NotFoundError ? new NotFoundError(`No enrollment code ${id}.`) : err;
      });
    return revoked;
  }

  /**
   * Redeems a code. Every attempt leaves one event: `device.enrolled` (by DeviceEnrollment, with
   * the code's id as actor) or `enrollment.refused` with the precise reason, which the caller
   * never sees for a code that cannot be used.
   */
  async redeem(raw: unknown, origin: AuditOrigin): Promise<EnrolledByCode> {
    let code: StoredEnrollmentCode | undefined;
    try {
      // Validated here rather than in a pipe: a malformed attempt must reach the trail too.
      const parsed = redeemEnrollmentCodeSchema.safeParse(raw ?? {});
      if (!parsed.success) {
        throw validationErrorOf(parsed.error, 'The request body is invalid', [], '(body)');
      }
      const input = parsed.data;
      const reading = readEnrollmentCode(input.code);
      if (!reading.ok) throw new EnrollmentCodeRefusedError(reading.reason);
      const stored = await this.codes.findByHash(hashEnrollmentCode(reading.normalised));
      if (!stored) throw new EnrollmentCodeRefusedError('unknown-code');
      code = stored;
      if (stored.revoked) throw new EnrollmentCodeRefusedError('revoked');
      if (stored.uses >= stored.maxUses) throw new EnrollmentCodeRefusedError('used-up');
      if (stored.expired) throw new EnrollmentCodeRefusedError('expired');

      const { jwk } = devicePublicKey(input.publicKey); // 400 for a malformed key or the wrong curve
      if (await this.devices.deviceWithKey(jwk)) throw new ConflictError('This public key is already enrolled.');
      return await this.enrollWith(stored, input, origin);
    } catch (err) {
      await this.audit.record({
        action: 'enrollment.refused',
        outcome: 'denied',
        reason: refusalReason(err),
        actorType: 'anonymous',
        ...origin,
        details: code ? { enrollmentCodeId: code.id } : {},
      });
      throw err;
    }
  }

  /**
   * Creates the device and takes a use of the code in one transaction, with the device.enrolled
   * event: the conditional UPDATE decides races (of N concurrent redemptions of the last use,
   * exactly one gets past it; the others roll back their device).
   */
  private async enrollWith(
    code: StoredEnrollmentCode,
    input: { publicKey: string | Record<string, unknown>; name?: string },
    origin: AuditOrigin,
  ): Promise<EnrolledByCode> {
    const enrolled = await this.enrollment.enroll(
      { name: input.name ?? code.name ?? 'enrolled device', publicKey: input.publicKey, terminalNumbers: code.terminalNumbers, policy: code.policy },
      { type: 'anonymous', id: `enrollment-code:${code.id}` },
      origin,
      {
        alsoInTransaction: async (tx) => {
          if (await this.codes.claimUse(code.id, tx)) return;
          const now = await this.codes.findStored(code.id, tx);
          throw new EnrollmentCodeRefusedError(now?.revoked ? 'revoked' : now && now.uses < now.maxUses ? 'expired' : 'used-up');
        },
      },
    );
    return { ...enrolled, audience: this.audience };
  }
}

function adminEvent(action: string, operator: OperatorPrincipal, origin: AuditOrigin, details: object): AuditEventInput {
  return { action, outcome: 'success', actorType: 'operator', actorId: operator.subject, ...origin, details };
}

function readNormalised(code: string): string {
  const reading = readEnrollmentCode(code);
  if (!reading.ok) throw new Error('generated an unreadable enrollment code');
  return reading.normalised;
}

function refusalReason(err: unknown): string {
  if (err instanceof EnrollmentCodeRefusedError) return err.reason;
  if (err instanceof ConflictError) return 'key-already-enrolled';
  if (err instanceof ValidationError) return err.detail.startsWith('publicKey') ? 'invalid-public-key' : 'invalid-request';
  if (err instanceof BrokerError) return err.code;
  return 'internal-error';
}
