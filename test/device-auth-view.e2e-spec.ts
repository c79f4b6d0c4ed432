import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { PrismaService } from '../src/database/prisma.service';
import { DeviceRepository } from '../src/devices/device.repository';
import { TerminalRepository, toTerminal } from '../src/terminals/terminal.repository';
import { BrokerHarness, SECOND_TERMINAL, TERMINAL } from './support/broker-harness';

/**
 * The hot path reads a device (keys, status, policy, bindings) with one prepared SQL statement
 * (findAuthViewLean) instead of Prisma's nested include: both must give the same view.
 */
describe('device auth view from one SQL statement', () => {
  let h: BrokerHarness;
  beforeAll(async () => (h = await BrokerHarness.start({ DEVICE_CACHE_TTL_MS: '0' })));
  afterAll(async () => h.close());

  const comparable = (v: Awaited<ReturnType<DeviceRepository['findAuthView']>>) =>
    v && { ...v, keys: v.keys.map((k) => ({ ...k, key: k.key.export({ format: 'jwk' }) })) };

  it('matches the Prisma view for a device with rotated keys, two terminals and its own policy', async () => {
    const repo = h.app.get(DeviceRepository);
    const policy = { allowUnscoped: true, allowed: [{ command: 'doDeal', validation: 'AutoComm' }] };
    const device = await h.enrollDevice(policy, [SECOND_TERMINAL, TERMINAL]);
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const expires = new Date(Date.now() + 3_600_123);
    expect(await repo.rotateKey(device.deviceId, { id: randomUUID(), alg: 'ES256', publicJwk: jwk }, expires)).toBe(true);

    const lean = await repo.findAuthViewLean(device.deviceId);
    expect(lean?.keys).toHaveLength(2);
    expect(lean?.keys[1].expiresAt).toBe(expires.getTime());
    expect(lean?.terminalNumbers).toEqual([TERMINAL, SECOND_TERMINAL].sort());
    expect(comparable(lean)).toEqual(comparable(await repo.findAuthView(device.deviceId)));
  });

  it('gives a device with the terminal default policy and an unknown device as Prisma does', async () => {
    const repo = h.app.get(DeviceRepository);
    const device = await h.enrollDevice();
    await h.db.query(`UPDATE device SET policy = NULL, status = 'disabled' WHERE id = $1`, [device.deviceId]);
    expect(comparable(await repo.findAuthViewLean(device.deviceId))).toEqual(comparable(await repo.findAuthView(device.deviceId)));
    expect((await repo.findAuthViewLean(device.deviceId))?.policy).toBeNull();
    expect(await repo.findAuthViewLean(randomUUID())).toBeNull();
  });

  it('reads a terminal for the session path as Prisma does (TerminalRepository.findByNumber)', async () => {
    const terminals = h.app.get(TerminalRepository);
    const prisma = h.app.get(PrismaService);
    const viaPrisma = async (n: string) => {
      const row = await prisma.terminal.findUnique({ where: { terminalNumber: n } });
      return row && toTerminal(row);
    };
    await h.db.query(`UPDATE terminal SET enabled = false, default_policy = $2 WHERE terminal_number = $1`, [
      SECOND_TERMINAL,
      JSON.stringify({ allowUnscoped: true, allowed: [{ command: 'doDeal' }] }),
    ]);
    for (const n of [TERMINAL, SECOND_TERMINAL]) expect(await terminals.findByNumber(n)).toEqual(await viaPrisma(n));
    expect(await terminals.findByNumber('0000000000')).toBeNull();
  });
});
