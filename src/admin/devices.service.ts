import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { AuditOrigin } from '../audit/audit-event';
import { ConflictError, NotFoundError, ValidationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import type { DeviceStatus } from '../devices/device';
import { DeviceDirectory } from '../devices/device-directory';
import { DeviceEnrollment, type EnrollDevice } from '../devices/device-enrollment';
import { devicePublicKey } from '../devices/device-keys';
import { DeviceRepository, type DeviceRecord } from '../devices/device.repository';
import type { OperatorPrincipal } from '../operators/operator';
import { TerminalRepository } from '../terminals/terminal.repository';
import { AdminAudit, changedFields } from './admin-audit';
import type { ListDevices, RotateKey, UpdateDevice } from './admin.schemas';
import type { Page } from './page';

export interface RotatedKey {
  readonly keyId: string;
  readonly alg: string;
  /** Until then the device's previous keys keep verifying (DEVICE_KEY_ROTATION_GRACE_SECONDS). */
  readonly previousKeysExpireAt: string;
  readonly device: DeviceRecord;
}

/** Which status changes are allowed, and from where. Revocation is permanent. */
const TRANSITIONS: Record<'disable' | 'enable' | 'revoke', { from: DeviceStatus[]; to: DeviceStatus; action: string }> = {
  disable: { from: ['active'], to: 'disabled', action: 'device.disabled' },
  enable: { from: ['disabled'], to: 'active', action: 'device.enabled' },
  revoke: { from: ['active', 'disabled'], to: 'revoked', action: 'device.revoked' },
};

/**
 * The admin rules for devices. Every change invalidates this instance's DeviceDirectory at once;
 * other instances see it within DEVICE_CACHE_TTL_MS.
 */
@Injectable()
export class DevicesService {
  private readonly graceMs: number;

  constructor(
    private readonly devices: DeviceRepository,
    private readonly enrollment: DeviceEnrollment,
    private readonly terminals: TerminalRepository,
    private readonly directory: DeviceDirectory,
    private readonly audit: AdminAudit,
    config: AppConfig,
  ) {
    this.graceMs = config.values.DEVICE_KEY_ROTATION_GRACE_SECONDS * 1000;
  }

  async enroll(input: EnrollDevice, operator: OperatorPrincipal, origin: AuditOrigin): Promise<DeviceRecord> {
    // DeviceEnrollment records `device.enrolled` with the operator as actor.
    const { deviceId } = await this.enrollment.enroll(input, { type: 'operator', id: operator.subject }, origin);
    return this.get(deviceId);
  }

  async list(query: ListDevices): Promise<Page<DeviceRecord>> {
    const { items, total } = await this.devices.list(
      { status: query.status, terminalNumber: query.terminalNumber, nameContains: query.name },
      { limit: query.limit, offset: query.offset },
    );
    return { items, total, limit: query.limit, offset: query.offset };
  }

  async get(deviceId: string): Promise<DeviceRecord> {
    const device = await this.devices.findRecord(deviceId);
    if (!device) throw new NotFoundError(`No device ${deviceId}.`);
    return device;
  }

  async update(deviceId: string, changes: UpdateDevice, operator: OperatorPrincipal, origin: AuditOrigin): Promise<DeviceRecord> {
    const before = await this.changeable(deviceId);
    let terminalIds: string[] | undefined;
    if (changes.terminalNumbers !== undefined) terminalIds = await this.terminalIds(changes.terminalNumbers);
    if (!(await this.devices.update(deviceId, { name: changes.name, policy: changes.policy, terminalIds }))) {
      await this.changeable(deviceId); // revoked or deleted meanwhile: 409 or 404
    }
    this.directory.invalidate(deviceId);
    const after = await this.get(deviceId);
    await this.audit.record('device.updated', operator, origin, {
      deviceId,
      ...changedFields(before, after, ['name', 'policy', 'terminalNumbers']),
    });
    return after;
  }

  async changeStatus(deviceId: string, change: keyof typeof TRANSITIONS, operator: OperatorPrincipal, origin: AuditOrigin): Promise<DeviceRecord> {
    const { from, to, action } = TRANSITIONS[change];
    const before = await this.get(deviceId);
    if (before.status !== to) {
      if (!from.includes(before.status) || !(await this.devices.transition(deviceId, from, to))) {
        const now = await this.get(deviceId);
        if (now.status !== to) throw new ConflictError(`The device is ${now.status}; it cannot be ${change}d${now.status === 'revoked' ? ' (revocation is permanent)' : ''}.`);
      }
    }
    this.directory.invalidate(deviceId);
    const after = await this.get(deviceId);
    // Asking for the state the device is already in changes nothing, and is recorded as such.
    await this.audit.record(action, operator, origin, { deviceId, before: { status: before.status }, after: { status: after.status } });
    return after;
  }

  async rotateKey(deviceId: string, input: RotateKey, operator: OperatorPrincipal, origin: AuditOrigin): Promise<RotatedKey> {
    const before = await this.changeable(deviceId);
    const { alg, jwk } = devicePublicKey(input.publicKey);
    if (await this.devices.deviceWithKey(jwk)) throw new ConflictError('This public key is already enrolled.');
    const keyId = randomUUID();
    const previousKeysExpireAt = new Date(Date.now() + this.graceMs);
    if (!(await this.devices.rotateKey(deviceId, { id: keyId, alg, publicJwk: jwk }, previousKeysExpireAt))) {
      await this.changeable(deviceId);
    }
    this.directory.invalidate(deviceId);
    const device = await this.get(deviceId);
    await this.audit.record('device.key-rotated', operator, origin, {
      deviceId,
      before: { keys: before.keys.map(keyState) },
      after: { keys: device.keys.map(keyState) },
    });
    return { keyId, alg, previousKeysExpireAt: previousKeysExpireAt.toISOString(), device };
  }

  /** The device, which must exist (404) and not be revoked (409). */
  private async changeable(deviceId: string): Promise<DeviceRecord> {
    const device = await this.get(deviceId);
    if (device.status === 'revoked') throw new ConflictError('The device is revoked; revocation is permanent.');
    return device;
  }

  private async terminalIds(numbers: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(numbers)];
    const found = await this.terminals.findByNumbers(wanted);
    const missing = wanted.filter((n) => !found.some((t) => t.terminalNumber === n));
    if (missing.length > 0) throw new ValidationError(`Unknown terminal(s): ${missing.join(', ')}`, [{ path: 'terminalNumbers', message: 'unknown terminal' }]);
    return found.map((t) => t.id);
  }
}

function keyState(k: DeviceRecord['keys'][number]): { id: string; alg: string; expiresAt: string | null } {
  return { id: k.id, alg: k.alg, expiresAt: k.expiresAt };
}
