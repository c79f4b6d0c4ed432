import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { TxClient } from '../audit/audit-transactions';
import { ConflictError } from '../common/errors';
import { DatabaseConnection } from '../database/database-connection';
import { PrismaService } from '../database/prisma.service';
import { Prisma } from '../generated/prisma/client';
import { scopePolicySchema, type ScopePolicy } from '../policy/scope-policy';
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
  /** Liveness as last flushed (DeviceLiveness, up to DEVICE_LIVENESS_FLUSH_MS behind); null: never seen. */
  readonly lastSeenAt: string | null;
  readonly lastIp: string | null;
  readonly softwareVersion: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface DeviceFilter {
  readonly status?: DeviceStatus;
  readonly terminalNumber?: string;
  readonly nameContains?: string;
  /** Not seen since then: last seen before it, or never seen. */
  readonly notSeenSince?: Date;
}

/** Where a page of the device list ended, in its order (enrolled at, newest first; then id, descending). */
export interface DevicePosition {
  readonly createdAt: Date;
  readonly id: string;
}

export interface DeviceListPage {
  readonly items: DeviceRecord[];
  /** Devices matching the filter, over all pages. */
  readonly total: number;
  /** The last item's position when more devices follow it; null on the last page. */
  readonly next: DevicePosition | null;
}

const RECORD_INCLUDE = {
  keys: { orderBy: { createdAt: 'desc' } },
  terminals: { include: { terminal: { select: { terminalNumber: true } } } },
} satisfies Prisma.DeviceInclude;
type DeviceRow = Prisma.DeviceGetPayload<{ include: typeof RECORD_INCLUDE }>;

/** The device, its keys (newest first; times as ISO strings in UTC) and its terminal numbers, in one row. */
const AUTH_VIEW_SQL = `SELECT d.id::text AS id, d.status, d.policy,
    COALESCE((SELECT json_agg(json_build_object(
        'id', k.id, 'alg', k.alg, 'jwk', k.public_jwk,
        'createdAt', to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'expiresAt', to_char(k.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      ORDER BY k.created_at DESC, k.id) FROM device_key k WHERE k.device_id = d.id), '[]'::json) AS keys,
    ARRAY(SELECT t.terminal_number::text FROM device_terminal dt JOIN terminal t ON t.id = dt.terminal_id WHERE dt.device_id = d.id) AS terminals
  FROM device d WHERE d.id = $1::uuid`;

interface AuthViewRow {
  id: string;
  status: string;
  policy: unknown;
  keys: Array<{ id: string; alg: string; jwk: object; createdAt: string; expiresAt: string | null }>;
  terminals: string[];
}

/**
 * Device I/O. Every method that changes something takes an optional transaction client: the
 * admin services pass theirs, so the change commits together with its audit event
 * (AuditTransactions); without one, a multi-statement change runs in a transaction of its own.
 */
@Injectable()
export class DeviceRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: DatabaseConnection,
  ) {}

  private atomically<T>(tx: TxClient | undefined, work: (db: TxClient) => Promise<T>): Promise<T> {
    return tx ? work(tx) : this.prisma.$transaction(work);
  }

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

  /**
   * findAuthView in one prepared statement on the shared pg pool (HotPathSql), for the hot path's
   * cache misses, instead of Prisma's nested include (several queries through the query compiler):
   * a large fleet, where most requests come from a device not in the cache, pays it on most requests
   * (bench --devices, BENCHMARKS.md).
   */
  async findAuthViewLean(deviceId: string): Promise<DeviceAuthView | null> {
    const [row] = await this.db.sql.query<AuthViewRow>(AUTH_VIEW_SQL, [deviceId], 'device_auth_view');
    if (!row) return null;
    return {
      id: row.id,
      status: row.status as DeviceStatus,
      policy: policyOf(row.policy as Prisma.JsonValue),
      keys: row.keys.map((k) => ({
        id: k.id,
        alg: k.alg,
        key: createPublicKey({ key: k.jwk as JsonWebKey, format: 'jwk' }),
        createdAt: Date.parse(k.createdAt),
        expiresAt: k.expiresAt === null ? undefined : Date.parse(k.expiresAt),
      })),
      terminalNumbers: row.terminals.sort(),
    };
  }

  /** ConflictError (409) when the public key is already enrolled, on this or another device. */
  async create(device: NewDevice, tx?: TxClient): Promise<void> {
    await this.atomically(tx, async (db) => {
      await db.device.create({ data: { id: device.id, name: device.name, policy: jsonOrNull(device.policy), status: 'active' } });
      await insertKey(db, device.id, device.key, false);
      await db.deviceTerminal.createMany({ data: device.terminalIds.map((terminalId) => ({ deviceId: device.id, terminalId })) });
    });
  }

  async setStatus(deviceId: string, status: DeviceStatus, tx?: TxClient): Promise<boolean> {
    const { count } = await (tx ?? this.prisma).device.updateMany({ where: { id: deviceId }, data: { status } });
    return count === 1;
  }

  /** Moves to `status` only from one of `from`, atomically: false when the device was in another state. */
  async transition(deviceId: string, from: readonly DeviceStatus[], status: DeviceStatus, tx?: TxClient): Promise<boolean> {
    const { count } = await (tx ?? this.prisma).device.updateMany({ where: { id: deviceId, status: { in: [...from] } }, data: { status } });
    return count === 1;
  }

  /** Locks the device row until `tx` ends: before/after of an admin change are then exact. */
  async lock(deviceId: string, tx: TxClient): Promise<void> {
    await tx.$queryRaw`SELECT 1 FROM device WHERE id = ${deviceId}::uuid FOR UPDATE`;
  }

  async findRecord(deviceId: string, tx?: TxClient): Promise<DeviceRecord | null> {
    const row = await (tx ?? this.prisma).device.findUnique({ where: { id: deviceId }, include: RECORD_INCLUDE });
    return row && toRecord(row);
  }

  /**
   * Newest first: (created_at, id) descending, which the index device_created_at_id_idx serves
   * read backwards. A page starts after `after` (keyset) or skips `offset` devices.
   */
  async list(filter: DeviceFilter, page: { limit: number; offset: number; after?: DevicePosition }): Promise<DeviceListPage> {
    const where: Prisma.DeviceWhereInput = {
      status: filter.status,
      name: filter.nameContains === undefined ? undefined : { contains: filter.nameContains, mode: 'insensitive' },
      terminals: filter.terminalNumber === undefined ? undefined : { some: { terminal: { terminalNumber: filter.terminalNumber } } },
      OR: filter.notSeenSince === undefined ? undefined : [{ lastSeenAt: null }, { lastSeenAt: { lt: filter.notSeenSince } }],
    };
    const after: Prisma.DeviceWhereInput | undefined = page.after && {
      OR: [{ createdAt: { lt: page.after.createdAt } }, { createdAt: page.after.createdAt, id: { lt: page.after.id } }],
    };
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.device.findMany({
        where: after ? { AND: [where, after] } : where,
        include: RECORD_INCLUDE,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: page.limit + 1,
        skip: page.offset,
      }),
      this.prisma.device.count({ where }),
    ]);
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    return { items: items.map(toRecord), total, next: rows.length > page.limit ? { createdAt: last.createdAt, id: last.id } : null };
  }

  /** Name, policy and/or the full set of terminal bindings; false when the device is gone or revoked. */
  async update(deviceId: string, changes: { name?: string; policy?: ScopePolicy | null; terminalIds?: readonly string[] }, tx?: TxClient): Promise<boolean> {
    const data: Prisma.DeviceUpdateManyMutationInput = { updatedAt: new Date() };
    if (changes.name !== undefined) data.name = changes.name;
    if (changes.policy !== undefined) data.policy = jsonOrNull(changes.policy);
    return this.atomically(tx, async (db) => {
      const updated = await db.device.updateMany({ where: { id: deviceId, status: { not: 'revoked' } }, data });
      if (changes.terminalIds !== undefined) {
        await db.deviceTerminal.deleteMany({
          where: { deviceId, terminalId: { notIn: [...changes.terminalIds] }, device: { status: { not: 'revoked' } } },
        });
        await db.$executeRaw`INSERT INTO device_terminal (device_id, terminal_id)
          SELECT d.id, t.id FROM device d CROSS JOIN unnest(${[...changes.terminalIds]}::uuid[]) AS t(id)
          WHERE d.id = ${deviceId}::uuid AND d.status <> 'revoked'
          ON CONFLICT DO NOTHING`;
      }
      return updated.count === 1;
    });
  }

  /**
   * Adds `key` as the newest key; every key still without an end (or ending later) now ends at
   * `oldKeysExpireAt`. false when the device is gone or not in a state that may rotate.
   */
  async rotateKey(deviceId: string, key: NewDeviceKey, oldKeysExpireAt: Date, tx?: TxClient): Promise<boolean> {
    return this.atomically(tx, async (db) => {
      const touched = await db.device.updateMany({ where: { id: deviceId, status: { not: 'revoked' } }, data: { updatedAt: new Date() } });
      if (touched.count !== 1) return false;
      await db.deviceKey.updateMany({
        where: { deviceId, OR: [{ expiresAt: null }, { expiresAt: { gt: oldKeysExpireAt } }] },
        data: { expiresAt: oldKeysExpireAt },
      });
      await insertKey(db, deviceId, key, true);
      return true;
    });
  }

  /** Which device already holds this public key, if any (compared on the key's RFC 7638 members). */
  async deviceWithKey(publicJwk: object, tx?: TxClient): Promise<string | null> {
    const [kty, crv, x, y] = thumbprintMembers(publicJwk);
    const rows = await (tx ?? this.prisma).$queryRaw<Array<{ device_id: string }>>`SELECT device_id::text FROM device_key
      WHERE public_jwk->>'kty' = ${kty} AND public_jwk->>'crv' = ${crv} AND public_jwk->>'x' = ${x} AND COALESCE(public_jwk->>'y', '') = ${y}
      LIMIT 1`;
    return rows[0]?.device_id ?? null;
  }
}

/**
 * The members RFC 7638 hashes into a key's thumbprint (kty, crv, x and, for EC keys, y): two JWKs
 * are the same key exactly when these are equal, whatever else (kid, use, alg) they carry. The
 * unique index device_key_public_key_key is on the same expressions, so that two concurrent
 * enrollments or rotations of one key cannot both get through.
 */
function thumbprintMembers(jwk: object): [string, string, string, string] {
  const k = jwk as Record<string, unknown>;
  const member = (name: string) => (typeof k[name] === 'string' ? k[name] : '');
  return [member('kty'), member('crv'), member('x'), member('y')];
}

/** Inserts a device key; ConflictError when the unique index says the key is already enrolled. */
async function insertKey(db: TxClient, deviceId: string, key: NewDeviceKey, onlyIfNotRevoked: boolean): Promise<void> {
  try {
    if (onlyIfNotRevoked) {
      await db.$executeRaw`INSERT INTO device_key (id, device_id, alg, public_jwk)
        SELECT ${key.id}::uuid, id, ${key.alg}, ${JSON.stringify(key.publicJwk)}::jsonb FROM device WHERE id = ${deviceId}::uuid AND status <> 'revoked'`;
    } else {
      await db.deviceKey.create({ data: { id: key.id, deviceId, alg: key.alg, publicJwk: key.publicJwk } });
    }
  } catch (err) {
    if (isUniqueViolation(err, 'device_key_public_key_key')) throw new ConflictError('This public key is already enrolled.');
    throw err;
  }
}

/** A unique violation on the named index: P2002 from Prisma's own queries, 23505 from a raw one. */
function isUniqueViolation(err: unknown, index: string): boolean {
  if (!(err instanceof Prisma.PrismaClientKnownRequestError)) return false;
  return `${err.message} ${JSON.stringify(err.meta ?? {})}`.includes(index);
}

function policyOf(value: Prisma.JsonValue): ScopePolicy | null {
  return value === null ? null : scopePolicySchema.parse(value);
}

function jsonOrNull(value: object | null): Prisma.InputJsonValue | typeof Prisma.DbNull {
  return value === null ? Prisma.DbNull : value;
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
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
    lastIp: row.lastIp,
    softwareVersion: row.softwareVersion,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
