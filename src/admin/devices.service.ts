import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { AuditOrigin } from '../http/audit-origin';
import type { TxClient } from '../audit/audit-transactions';
import { ConflictError, NotFoundError, ValidationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import type { DeviceStatus } from '../devices/device';
import { DeviceDirectory } from '../devices/device-directory';
import { DeviceEnrollment, type EnrollDevice } from '../devices/device-enrollment';
import { devicePublicKey } from '../devices/device-keys';
import { DeviceRepository, type DeviceFilter, type DeviceRecord } from '../devices/device.repository';
import { TerminalRepository } from '../terminals/terminal.repository';
import { AdminAudit, changedFields, type AdminActor } from './admin-audit';
import type { ListDevices, RotateKey, UpdateDevice } from './admin.schemas';
import { decodeDeviceCursor, encodeDeviceCursor } from './device-cursor';
import type { KeysetPage } from './page';

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

  async enroll(input: EnrollDevice, actor: AdminActor, origin: AuditOrigin): Promise<DeviceRecord> {
    // DeviceEnrollment records `device.enrolled` with the operator as actor, in the same transaction.
    const { deviceId } = await this.enrollment.enroll(input, { type: 'operator', id: actor.subject }, origin);
    return this.get(deviceId);
  }

  /** One page, after `query.cursor` (keyset: stable while devices are enrolled) or `query.offset` devices. */
  async list(query: ListDevices): Promise<KeysetPage<DeviceRecord>> {
    const filter: DeviceFilter = { status: query.status, terminalNumber: query.terminalNumber, nameContains: query.name, notSeenSince: query.notSeenSince };
    const after = query.cursor === undefined ? undefined : decodeDeviceCursor(query.cursor, filter);
    const { items, total, next } = await this.devices.list(filter, { limit: query.limit, offset: query.offset, after });
    return { items, total, limit: query.limit, offset: query.offset, nextCursor: next && encodeDeviceCursor(next, filter) };
  }

  async get(deviceId: string, tx?: TxClient): Promise<DeviceRecord> {
    const device = await this.devices.findRecord(deviceId, tx);
    if (!device) throw new NotFoundError(`No device ${deviceId}.`);
    return device;
  }

  async update(deviceId: string, changes: UpdateDevice, actor: AdminActor, origin: AuditOrigin): Promise<DeviceRecord> {
    const after = await this.audit.change('device.updated', actor, origin, async (tx) => {
      await this.devices.lock(deviceId, tx);
      const before = await this.changeable(deviceId, tx);
      let terminalIds: string[] | undefined;
      if (changes.terminalNumbers !== undefined) terminalIds = await this.terminalIds(changes.terminalNumbers, tx);
      if (!(await this.devices.update(deviceId, { name: changes.name, policy: changes.policy, terminalIds }, tx))) {
        await this.changeable(deviceId, tx); // revoked or deleted meanwhile: 409 or 404
      }
      const after = await this.get(deviceId, tx);
      return { result: after, change: { deviceId, ...changedFields(before, after, ['name', 'policy', 'terminalNumbers']) } };
    });
    this.directory.invalidate(deviceId);
    return after;
  }

  async changeStatus(deviceId: string, change: keyof typeof TRANSITIONS, actor: AdminActor, origin: AuditOrigin): Promise<DeviceRecord> {
    const { from, to, action } = TRANSITIONS[change];
    const after = await this.audit.change(action, actor, origin, async (tx) => {
      await this.devices.lock(deviceId, tx);
      const before = await this.get(deviceId, tx);
      if (before.status !== to) {
        if (!from.includes(before.status) || !(await this.devices.transition(deviceId, from, to, tx))) {
          const now = await this.get(deviceId, tx);
          if (now.status !== to)
            throw new ConflictError(`The device is ${now.status}; it cannot be ${change}d${now.status === 'revoked' ? ' (revocation is permanent)' : ''}.`);
        }
      }
      const after = await this.get(deviceId, tx);
      // Asking for the state the device is already in changes nothing, and is recorded as such.
      return { result: after, change: { deviceId, before: { status: before.status }, after: { status: after.status } } };
    });
    this.directory.invalidate(deviceId);
    return after;
  }

  /**
   * The new key verifies at once; the previous ones until `graceSeconds` from now (default
   * DEVICE_KEY_ROTATION_GRACE_SECONDS). 0 cuts them off at once: for a key known or feared to be
   * compromised.
   */
  async rotateKey(deviceId: string, input: RotateKey, actor: AdminActor, origin: AuditOrigin): Promise<RotatedKey> {
    const { alg, jwk } = devicePublicKey(input.publicKey);
    const keyId = randomUUID();
    const graceMs = input.graceSeconds === undefined ? this.graceMs : input.graceSeconds * 1000;
    const rotated = await this.audit.change('device.key-rotated', actor, origin, async (tx) => {
      await this.devices.lock(deviceId, tx);
      const before = await this.changeable(deviceId, tx);
      if (await this.devices.deviceWithKey(jwk, tx)) throw new ConflictError('This public key is already enrolled.');
      const previousKeysExpireAt = new Date(Date.now() + graceMs);
      if (!(await this.devices.rotateKey(deviceId, { id: keyId, alg, publicJwk: jwk }, previousKeysExpireAt, tx))) {
        await this.changeable(deviceId, tx);
      }
      const device = await this.get(deviceId, tx);
      return {
        result: { keyId, alg, previousKeysExpireAt: previousKeysExpireAt.toISOString(), device },
        change: { deviceId, before: { keys: before.keys.map(keyState) }, after: { keys: device.keys.map(keyState) } },
      };
    });
    this.directory.invalidate(deviceId);
    return rotated;
  }

  /** The device, which must exist (404) and not be revoked (409). */
  private async changeable(deviceId: string, tx?: TxClient): Promise<DeviceRecord> {
    const device = await this.get(deviceId, tx);
    if (device.status === 'revoked') throw new ConflictError('The device is revoked; revocation is permanent.');
    return device;
  }

  private async terminalIds(numbers: readonly string[], tx?: TxClient): Promise<string[]> {
    const wanted = [...new Set(numbers)];
    const found = await this.terminals.findByNumbers(wanted, tx);
    const missing = wanted.filter((n) => !found.some((t) => t.terminalNumber === n));
    if (missing.length > 0) throw new ValidationError(`Unknown terminal(s): ${missing.join(', ')}`, [{ path: 'terminalNumbers', message: 'unknown terminal' }]);
    return found.map((t) => t.id);
  }
}

function keyState(k: DeviceRecord['keys'][number]): { id: string; alg: string; expiresAt: string | null } {
  return { id: k.id, alg: k.alg, expiresAt: k.expiresAt };
}
