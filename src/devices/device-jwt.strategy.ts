import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { decode } from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AuthenticationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import type { DeviceAuthView, DeviceKeyView, DevicePrincipal } from './device';
import { DeviceDirectory } from './device-directory';
import { DEVICE_KEY_ALGS, signatureMatches, verifyEdDsaToken } from './device-keys';
import { DeviceLiveness } from './device-liveness';
import { ReplayGuard } from './replay-guard';
import { requestContext } from '../http/request-context';

export const DEVICE_JWT = 'device-jwt';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * 1-128 visible ASCII characters. The jti is stored (Postgres varchar, Redis key) and compared
 * byte for byte: a NUL, which Postgres refuses, would fail the whole group-committed claim batch
 * and with it other devices' requests; spaces, control and non-ASCII characters have no use in
 * an identifier and only make equal-looking jtis differ.
 */
const JTI = /^[\x21-\x7e]{1,128}$/;
/** The optional `sv` claim (the device's software version, shown in the admin API): 1-64 visible ASCII, like the jti. */
const SOFTWARE_VERSION = /^[\x21-\x7e]{1,64}$/;

interface DeviceClaims {
  sub?: unknown;
  jti?: unknown;
  iat?: unknown;
  exp?: unknown;
  sv?: unknown;
}

/**
 * Device JWTs: signed by the device's own enrolled key (ES256 or EdDSA), `aud` = the broker, `exp`
 * at most DEVICE_JWT_MAX_LIFETIME_SECONDS after `iat`, a `jti` never seen before. passport-jwt
 * checks signature, algorithm allow-list, audience and expiry of ES256 tokens; EdDSA tokens, which
 * jsonwebtoken cannot verify, take verifyEdDsaToken instead. The rest is checked here for both.
 */
@Injectable()
export class DeviceJwtStrategy extends PassportStrategy(Strategy, DEVICE_JWT) {
  private readonly maxLifetime: number;
  private readonly skew: number;
  private readonly audience: string;
  private readonly bearer = ExtractJwt.fromAuthHeaderAsBearerToken();

  constructor(
    private readonly devices: DeviceDirectory,
    private readonly replay: ReplayGuard,
    private readonly liveness: DeviceLiveness,
    config: AppConfig,
  ) {
    const c = config.values;
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: ['ES256'],
      audience: c.DEVICE_JWT_AUDIENCE,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: c.DEVICE_JWT_CLOCK_SKEW_SECONDS },
      passReqToCallback: true,
      secretOrKeyProvider: (req: FastifyRequest, raw: string, done: (err: unknown, key?: unknown) => void) => {
        this.keyFor(req, raw).then(
          (key) => done(null, key),
          (err: unknown) => done(err),
        );
      },
    } as ConstructorParameters<typeof Strategy>[0]);
    this.maxLifetime = c.DEVICE_JWT_MAX_LIFETIME_SECONDS;
    this.skew = c.DEVICE_JWT_CLOCK_SKEW_SECONDS;
    this.audience = c.DEVICE_JWT_AUDIENCE;
  }

  override authenticate(req: Parameters<Strategy['authenticate']>[0], options?: object): void {
    const raw = this.bearer(req);
    if (raw && headerAlg(raw) === 'EdDSA') {
      void this.authenticateEdDsa(req as unknown as FastifyRequest, raw);
      return;
    }
    super.authenticate(req, options);
  }

  /** The EdDSA path, ending the same way passport-jwt does: fail (refused), error (thrown by validate), success. */
  private async authenticateEdDsa(req: FastifyRequest, raw: string): Promise<void> {
    let claims: Record<string, unknown>;
    try {
      const key = await this.keyFor(req, raw);
      claims = verifyEdDsaToken(raw, key as DeviceKeyView['key'], { audience: this.audience, clockSkewSeconds: this.skew });
    } catch (err) {
      return this.fail(err, 401);
    }
    try {
      this.success(await this.validate(req, claims));
    } catch (err) {
      this.error(err as Error);
    }
  }

  async validate(req: FastifyRequest, claims: DeviceClaims): Promise<DevicePrincipal> {
    const { sub, jti, iat, exp, sv } = claims;
    if (typeof sub !== 'string' || typeof jti !== 'string') throw new AuthenticationError('claims-missing');
    if (!JTI.test(jti)) throw new AuthenticationError('malformed-jti');
    if (sv !== undefined && (typeof sv !== 'string' || !SOFTWARE_VERSION.test(sv))) throw new AuthenticationError('malformed-sv');
    if (typeof iat !== 'number' || typeof exp !== 'number') throw new AuthenticationError('claims-missing');
    const now = Date.now() / 1000;
    if (iat > now + this.skew) throw new AuthenticationError('iat-in-future');
    if (exp - iat > this.maxLifetime) throw new AuthenticationError('lifetime-too-long');
    const device = await this.devices.find(sub);
    if (!device) throw new AuthenticationError('unknown-device');
    if (device.status !== 'active') throw new AuthenticationError(`device-${device.status}`);
    // The device route's rate limits are counted in the same Redis round trip as the claim.
    const caller = { deviceId: device.id, terminalNumbers: device.terminalNumbers };
    if (!(await this.replay.claim(device.id, jti, new Date(exp * 1000), { req, caller }))) throw new AuthenticationError('jti-replayed');
    authenticatedDevice(req, device.id);
    // In memory only; written in batches (DeviceLiveness), never awaited here.
    this.liveness.seen(device.id, req.ip, sv);
    return { deviceId: device.id, policy: device.policy, terminalNumbers: device.terminalNumbers, jti };
  }

  private async keyFor(req: FastifyRequest, raw: string): Promise<unknown> {
    const token = decode(raw, { complete: true });
    if (!token || typeof token.payload !== 'object') throw new AuthenticationError('malformed-token');
    const sub = token.payload.sub;
    if (typeof sub !== 'string' || !UUID.test(sub)) throw new AuthenticationError('unknown-device');
    claimedDevice(req, sub);
    const device = await this.devices.find(sub);
    if (!device) throw new AuthenticationError('unknown-device');
    const key = selectKey(device, token.header.kid, token.header.alg, raw);
    if (!key) throw new AuthenticationError('no-usable-key');
    return key.key;
  }
}

/**
 * The key named by `kid`; without `kid`, the key of the token's algorithm whose signature it
 * carries, so a token signed by a rotated-out key still verifies during its grace period (else
 * the newest of that algorithm, and verification then says why it fails). Expired keys are never used.
 */
function selectKey(device: DeviceAuthView, kid: string | undefined, alg: string, raw: string): DeviceKeyView | undefined {
  const now = Date.now();
  const usable = device.keys.filter((k) => k.expiresAt === undefined || k.expiresAt > now);
  if (kid !== undefined) return usable.find((k) => k.id === kid);
  // Another algorithm (HS256, none...) is left to the verifier to refuse, with its precise reason.
  if (!DEVICE_KEY_ALGS.includes(alg)) return usable[0];
  const candidates = usable.filter((k) => k.alg === alg);
  if (candidates.length <= 1) return candidates[0];
  return candidates.find((k) => signatureMatches(raw, alg, k.key)) ?? candidates[0];
}

/** The `alg` of a compact JWS's header, reading the header alone (this runs on every request). */
function headerAlg(raw: string): unknown {
  try {
    return (JSON.parse(Buffer.from(raw.slice(0, raw.indexOf('.')), 'base64url').toString('utf8')) as { alg?: unknown }).alg;
  } catch {
    return undefined;
  }
}

/** Which device the (not yet verified) token names: for the audit record of a refusal. */
export function claimedDevice(req: FastifyRequest, deviceId?: string): string | undefined {
  const context = requestContext(req);
  if (deviceId !== undefined) context.claimedDeviceId = deviceId;
  return context.claimedDeviceId;
}

function authenticatedDevice(req: FastifyRequest, deviceId: string): void {
  requestContext(req).deviceId = deviceId;
}
