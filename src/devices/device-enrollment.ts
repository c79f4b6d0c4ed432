import { createPublicKey, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import type { AuditActorType, AuditOrigin } from '../audit/audit-event';
import { AuditTrail } from '../audit/audit-trail';
import { ValidationError } from '../common/errors';
import { scopePolicySchema } from '../sessions/hyp-scope.schema';
import { TERMINAL_NUMBER } from '../sessions/session-request.schema';
import { TerminalRepository } from '../terminals/terminal.repository';
import { DeviceDirectory } from './device-directory';
import { DeviceRepository } from './device.repository';

export const enrollDeviceSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  /** ES256 public key as a JWK object or an SPKI PEM string. */
  publicKey: z.union([z.string().min(1).max(4096), z.record(z.string(), z.unknown())]),
  terminalNumbers: z.array(z.string().regex(TERMINAL_NUMBER, 'must be exactly 10 digits')).min(1).max(100),
  policy: scopePolicySchema,
});
export type EnrollDevice = z.infer<typeof enrollDeviceSchema>;

export interface EnrolledDevice {
  deviceId: string;
  keyId: string;
  terminalNumbers: string[];
}

/** Enrolls a device with its own public key; the CLI, the bootstrap route and the admin API all come here. */
@Injectable()
export class DeviceEnrollment {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly terminals: TerminalRepository,
    private readonly directory: DeviceDirectory,
    private readonly audit: AuditTrail,
  ) {}

  async enroll(input: EnrollDevice, actor: { type: AuditActorType; id?: string }, origin: AuditOrigin): Promise<EnrolledDevice> {
    const publicJwk = es256PublicJwk(input.publicKey);
    const terminalNumbers = [...new Set(input.terminalNumbers)].sort();
    const terminals = await this.terminals.findByNumbers(terminalNumbers);
    const missing = terminalNumbers.filter((n) => !terminals.some((t) => t.terminalNumber === n));
    if (missing.length > 0) throw new ValidationError(`Unknown terminal(s): ${missing.join(', ')}`);

    const deviceId = randomUUID();
    const keyId = randomUUID();
    await this.devices.create({
      id: deviceId,
      name: input.name,
      policy: input.policy,
      key: { id: keyId, alg: 'ES256', publicJwk },
      terminalIds: terminals.map((t) => t.id),
    });
    this.directory.invalidate(deviceId);
    await this.audit.record({
      action: 'device.enrolled',
      outcome: 'success',
      actorType: actor.type,
      actorId: actor.id,
      ...origin,
      details: { deviceId, after: { name: input.name, keyId, alg: 'ES256', terminalNumbers, policy: input.policy } },
    });
    return { deviceId, keyId, terminalNumbers };
  }
}

/** Accepts only P-256 public keys (ES256); returns the public JWK, whatever was sent. */
export function es256PublicJwk(input: string | Record<string, unknown>): Record<string, string> {
  let key: KeyObject;
  try {
    key = typeof input === 'string' ? createPublicKey(input) : createPublicKey({ key: input as JsonWebKey, format: 'jwk' });
  } catch {
    throw new ValidationError('publicKey is not a readable public key (JWK or PEM).');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ValidationError('publicKey must be an EC P-256 key (ES256).');
  }
  return key.export({ format: 'jwk' }) as Record<string, string>;
}
