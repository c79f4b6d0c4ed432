import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PrismaService } from '../database/prisma.service';
import { scopePolicySchema } from '../sessions/hyp-scope.schema';
import type { DeviceAuthView, DeviceStatus } from './device';

export interface NewDevice {
  readonly id: string;
  readonly name: string;
  readonly policy: object;
  readonly key: { id: string; alg: string; publicJwk: object };
  readonly terminalIds: readonly string[];
}

@Injectable()
export class DeviceRepository {
  constructor(private readonly prisma: PrismaService) {}

  async findAuthView(deviceId: string): Promise<DeviceAuthView | null> {
    const row = await this.prisma.device.findUnique({
      where: { id: deviceId },
      include: {
        keys: { orderBy: { createdAt: 'desc' } },
        terminals: { include: { terminal: { select: { terminalNumber: true } } } },
      },
    });
    if (!row) return null;
    return {
      id: row.id,
      status: row.status as DeviceStatus,
      policy: scopePolicySchema.parse(row.policy),
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
      this.prisma.device.create({ data: { id: device.id, name: device.name, policy: device.policy, status: 'active' } }),
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
}
