import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import { Prisma } from '../generated/prisma/client';
import { scopePolicySchema, type ScopePolicy } from '../sessions/hyp-scope.schema';
import type { DeviceAuthView, DeviceStatus } from './device';

export interface NewDeviceKey {
  readonly id: string;
  readonly alg: string;
  readonly publicJwk: object;
}

export interface NewDevice {
  readonly id: string;
  readonly name: string;
  /** null: the terminal's default policy applies. */
  readonly policy: object | null;
  readonly key: NewDeviceKey;
  readonly terminalIds: readonly string[];
}

/** A device as the admin API shows it: public keys only, never anything secret. */
export interface DeviceRecord {
  readonly id: string;
  readonly name: string;
  readonly status: DeviceStatus;
  readonly policy: ScopePolicy | null;
  readonly terminalNumbers: string[];
  readonly keys: Array<{ id: string; alg: string; publicJwk: Record<string, unknown>; createdAt: string; expiresAt: string | null }>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface DeviceFilter {
  readonly status?: DeviceStatus;
  readonly terminalNumber?: string;
  readonly nameContains?: string;
}

const RECORD_INCLUDE = {
  keys: { orderBy: { createdAt: 'desc' } },
  terminals: { include: { terminal: { select: { terminalNumber: true } } } },
} satisfies Prisma.DeviceInclude;
type DeviceRow = Prisma.DeviceGetPayload<{ include: typeof RECORD_INCLUDE }>;

@Injectable()
export class DeviceRepository {
  constructor(private readonly prisma: PrismaService) {}

  async findAuthView(deviceId: string): Promise<DeviceAuthView | null> {
    const row = await this.prisma.device.findUnique({ where: { id: deviceId }, include: RECORD_INCLUDE });
    if (!row) return null;
    return {
      id: row.id,
      status: row.status as DeviceStatus,
      policy: policyOf(row.policy),
      keys: row.keys.map((k) => ({
        id: k.id,
        alg: k.alg,
        key: createPublicKey({ key: k.publicJwk as JsonWebKey, format: 'jwk' }),
        createdAt: k.createdAt.getTime(),
        expiresAt: k.expiresAt?.getTime(),
      })),
      terminalNumbers: row.terminals.map((t) => t.terminal.terminalNumber).sort(),
    };
  }

  async create(device: NewDevice): Promise<void> {
    await this.prisma.$transaction([
      this.prisma.device.create({ data: { id: device.id, name: device.name, policy: jsonOrNull(device.policy), status: 'active' } }),
      this.prisma.deviceKey.create({
        data: { id: device.key.id, deviceId: device.id, alg: device.key.alg, publicJwk: device.key.publicJwk },
      }),
      this.prisma.deviceTerminal.createMany({
        data: device.terminalIds.map((terminalId) => ({ deviceId: device.id, terminalId })),
      }),
    ]);
  }

  async setStatus(deviceId: string, status: DeviceStatus): Promise<boolean> {
    const { count } = await this.prisma.device.updateMany({ where: { id: deviceId }, data: { status } });
    return count === 1;
  }

  /** Moves to `status` only from one of `from`, atomically: false when the device was in another state. */
  async transition(deviceId: string, from: readonly DeviceStatus[], status: DeviceStatus): Promise<boolean> {
    const { count } = await this.prisma.device.updateMany({ where: { id: deviceId, status: { in: [...from] } }, data: { status } });
    return count === 1;
  }

  async findRecord(deviceId: string): Promise<DeviceRecord | null> {
    const row = await this.prisma.device.findUnique({ where: { id: deviceId }, include: RECORD_INCLUDE });
    return row && toRecord(row);
  }

  /** Newest first. */
  async list(filter: DeviceFilter, page: { limit: number; offset: number }): Promise<{ items: DeviceRecord[]; total: number }> {
    const where: Prisma.DeviceWhereInput = {
      status: filter.status,
      name: filter.nameContains === undefined ? undefined : { contains: filter.nameContains, mode: 'insensitive' },
      terminals: filter.terminalNumber === undefined ? undefined : { some: { terminal: { terminalNumber: filter.terminalNumber } } },
    };
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.device.findMany({
        where,
        include: RECORD_INCLUDE,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: page.limit,
        skip: page.offset,
      }),
      this.prisma.device.count({ where }),
    ]);
    return { items: rows.map(toRecord), total };
  }

  /** Name, policy and/or the full set of terminal bindings; false when the device is gone or revoked. */
  async update(deviceId: string, changes: { name?: string; policy?: ScopePolicy | null; terminalIds?: readonly string[] }): Promise<boolean> {
    const data: Prisma.DeviceUpdateManyMutationInput = { updatedAt: new Date() };
    if (changes.name !== undefined) data.name = changes.name;
    if (changes.policy !== undefined) data.policy = jsonOrNull(changes.policy);
    const [updated] = await this.prisma.$transaction([
      this.prisma.device.updateMany({ where: { id: deviceId, status: { not: 'revoked' } }, data }),
      ...(changes.terminalIds === undefined
        ? []
        : [
            this.prisma.deviceTerminal.deleteMany({
              where: { deviceId, terminalId: { notIn: [...changes.terminalIds] }, device: { status: { not: 'revoked' } } },
            }),
            this.prisma.$executeRaw`INSERT INTO device_terminal (device_id, terminal_id)
              SELECT d.id, t.id FROM device d CROSS JOIN unnest(${[...changes.terminalIds]}::uuid[]) AS t(id)
              WHERE d.id = ${deviceId}::uuid AND d.status <> 'revoked'
              ON CONFLICT DO NOTHING`,
          ]),
    ]);
    return (updated as { count: number }).count === 1;
  }

  /**
   * Adds `key` as the newest key; every key still without an end (or ending later) now ends at
   * `oldKeysExpireAt`. false when the device is gone or not in a state that may rotate.
   */
  async rotateKey(deviceId: string, key: NewDeviceKey, oldKeysExpireAt: Date): Promise<boolean> {
    const [touched] = await this.prisma.$transaction([
      this.prisma.device.updateMany({ where: { id: deviceId, status: { not: 'revoked' } }, data: { updatedAt: new Date() } }),
      this.prisma.deviceKey.updateMany({
        where: { deviceId, device: { status: { not: 'revoked' } }, OR: [{ expiresAt: null }, { expiresAt: { gt: oldKeysExpireAt } }] },
        data: { expiresAt: oldKeysExpireAt },
      }),
      this.prisma.$executeRaw`INSERT INTO device_key (id, device_id, alg, public_jwk)
        SELECT ${key.id}::uuid, id, ${key.alg}, ${JSON.stringify(key.publicJwk)}::jsonb FROM device WHERE id = ${deviceId}::uuid AND status <> 'revoked'`,
    ]);
    return (touched as { count: number }).count === 1;
  }

  /** Which device already holds this public key, if any. */
  async deviceWithKey(publicJwk: object): Promise<string | null> {
    const row = await this.prisma.deviceKey.findFirst({ where: { publicJwk: { equals: publicJwk } }, select: { deviceId: true } });
    return row?.deviceId ?? null;
  }
}

function policyOf(value: Prisma.JsonValue): ScopePolicy | null {
  return value === null ? null : scopePolicySchema.parse(value);
}

function jsonOrNull(value: object | null): Prisma.InputJsonValue | typeof Prisma.DbNull {
  return value === null ? Prisma.DbNull : (value as Prisma.InputJsonValue);
}

function toRecord(row: DeviceRow): DeviceRecord {
  return {
    id: row.id,
    name: row.name,
    status: row.status as DeviceStatus,
    policy: policyOf(row.policy),
    terminalNumbers: row.terminals.map((t) => t.terminal.terminalNumber).sort(),
    keys: row.keys.map((k) => ({
      id: k.id,
      alg: k.alg,
      publicJwk: k.publicJwk as Record<string, unknown>,
      createdAt: k.createdAt.toISOString(),
      expiresAt: k.expiresAt?.toISOString() ?? null,
    })),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
