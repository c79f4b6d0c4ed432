import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { AuditActorType } from '../audit/audit-event';
import type { AuditOrigin } from '../http/audit-origin';
import { AuditTransactions, type TxClient } from '../audit/audit-transactions';
import { ConflictError, ValidationError } from '../common/errors';
import { scopePolicySchema } from '../policy/scope-policy';
import { TERMINAL_NUMBER } from '../terminals/terminal';
import { TerminalRepository } from '../terminals/terminal.repository';
import { DeviceDirectory } from './device-directory';
import { devicePublicKey } from './device-keys';
import { DeviceRepository } from './device.repository';

export const enrollDeviceSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  publicKey: devicePublicKeySchema(),
  terminalNumbers: z.array(z.string().regex(TERMINAL_NUMBER, 'must be exactly 10 digits')).min(1).max(100),
  /** Absent or null: the device has the default policy of the terminal each session is for. */
  policy: scopePolicySchema.nullable().default(null),
});
export type EnrollDevice = z.input<typeof enrollDeviceSchema>;

/** A device public key: an ES256 (P-256) or EdDSA (Ed25519) key as a JWK object or an SPKI PEM string. */
export function devicePublicKeySchema() {
  return z
    .union([z.string().min(1).max(4096), z.record(z.string(), z.unknown())])
    .describe('ES256 (EC P-256) or EdDSA (Ed25519) public key, as a JWK object or an SPKI PEM string');
}

export interface EnrolledDevice {
  deviceId: string;
  keyId: string;
  alg: string;
  terminalNumbers: string[];
}

/** Options of DeviceEnrollment.enroll() for callers that add to the enrollment's transaction. */
export interface EnrollOptions {
  /**
   * Enroll inside this transaction instead of one of its own: the device and its
   * `device.enrolled` event are then committed (or rolled back) with the caller's own changes.
   */
  readonly tx?: TxClient;
  /**
   * Runs inside the enrollment's transaction once the device exists, before its event is
   * written (e.g. taking a use of a one-time enrollment code). Throwing rolls the enrollment back.
   */
  readonly alsoInTransaction?: (tx: TxClient, device: EnrolledDevice) => Promise<void>;
}

/**
 * Enrolls a device with its own public key; the CLI, the bootstrap route, the admin API and
 * enrollment codes all come here. The device and its `device.enrolled` event are written in one
 * transaction (AuditTransactions): if the event cannot be written, no device exists (503). A key
 * already enrolled on any device is refused (409), checked first for a clear answer and enforced
 * by a unique index against concurrent enrollments.
 */
@Injectable()
export class DeviceEnrollment {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly terminals: TerminalRepository,
    private readonly directory: DeviceDirectory,
    private readonly audited: AuditTransactions,
  ) {}

  async enroll(raw: EnrollDevice, actor: { type: AuditActorType; id?: string }, origin: AuditOrigin, options: EnrollOptions = {}): Promise<EnrolledDevice> {
    const input = enrollDeviceSchema.parse(raw);
    const { alg, jwk: publicJwk } = devicePublicKey(input.publicKey);
    const terminalNumbers = [...new Set(input.terminalNumbers)].sort();
    const deviceId = randomUUID();
    const keyId = randomUUID();

    const enrolled = await this.audited.run(async (tx) => {
      if (await this.devices.deviceWithKey(publicJwk, tx)) throw new ConflictError('This public key is already enrolled.');
      const terminals = await this.terminals.findByNumbers(terminalNumbers, tx);
      const missing = terminalNumbers.filter((n) => !terminals.some((t) => t.terminalNumber === n));
      if (missing.length > 0) throw new ValidationError(`Unknown terminal(s): ${missing.join(', ')}`);
      await this.devices.create(
        { id: deviceId, name: input.name, policy: input.policy, key: { id: keyId, alg, publicJwk }, terminalIds: terminals.map((t) => t.id) },
        tx,
      );
      const device: EnrolledDevice = { deviceId, keyId, alg, terminalNumbers };
      await options.alsoInTransaction?.(tx, device);
      return {
        result: device,
        event: {
          action: 'device.enrolled',
          outcome: 'success',
          actorType: actor.type,
          actorId: actor.id,
          ...origin,
          details: { deviceId, after: { name: input.name, status: 'active', keyId, alg, terminalNumbers, policy: input.policy } },
        },
      };
    }, options.tx);
    this.directory.invalidate(deviceId);
    return enrolled;
  }
}
