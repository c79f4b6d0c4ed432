import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuthenticationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { requestContext } from '../http/request-context';
import { AuthRefusals } from '../rate-limits/auth-refusals';
import type { DeviceAuthView, DeviceKeyView, DevicePrincipal } from './device';
import { DeviceDirectory } from './device-directory';
import { DEVICE_KEY_ALGS, decodeDeviceToken, signatureMatches, verifyDeviceToken, type DeviceToken } from './device-keys';
import { DeviceLiveness } from './device-liveness';
import { ReplayGuard } from './replay-guard';

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
/** `Authorization: Bearer <token>`, read as passport-jwt's extractor reads it (scheme case-insensitive). */
const AUTHORIZATION = /(\S+)\s+(\S+)/;

/**
 * Device JWTs: signed by the device's own enrolled key (ES256 or EdDSA), `aud` = the broker, `exp`
 * at most DEVICE_JWT_MAX_LIFETIME_SECONDS after `iat`, a `jti` never seen before, the device
 * active. Every refusal is audited with its precise reason (aggregated per address and reason
 * under a flood, see AuthRefusals) while the caller only ever learns "401"; an address with too
 * many refusals is answered 429 before its token is looked at.
 *
 * The token is decoded once and verified with node:crypto against the device's cached KeyObject;
 * passport-jwt (and jsonwebtoken under it) are no longer on this path: they decoded each token
 * three times and cost a measured share of the session path's CPU (docs/decisions.md). Operators'
 * tokens still go through passport-jwt.
 */
@Injectable()
export class DeviceAuthenticator {
  private readonly maxLifetime: number;
  private readonly skew: number;
  private readonly audience: string;

  constructor(
    private readonly devices: DeviceDirectory,
    private readonly replay: ReplayGuard,
    private readonly liveness: DeviceLiveness,
    private readonly refusals: AuthRefusals,
    config: AppConfig,
  ) {
    const c = config.values;
    this.maxLifetime = c.DEVICE_JWT_MAX_LIFETIME_SECONDS;
    this.skew = c.DEVICE_JWT_CLOCK_SKEW_SECONDS;
    this.audience = c.DEVICE_JWT_AUDIENCE;
  }

  /**
   * The calling device, also left as `request.user` (as passport left it: CurrentDevice and the
   * rate limits' trackers read it there); or AuthenticationError (401, audited), RateLimitedError
   * (429), DependencyUnavailableError (503).
   */
  async authenticate(req: FastifyRequest & { user?: DevicePrincipal }): Promise<DevicePrincipal> {
    await this.refusals.checkBefore(req, 'device');
    try {
      req.user = await this.verify(req);
      return req.user;
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      await this.refusals.refused(req, { actorType: 'device', reason: err.reason, actorId: requestContext(req).claimedDeviceId });
      throw err;
    }
  }

  private async verify(req: FastifyRequest): Promise<DevicePrincipal> {
    const raw = bearerToken(req);
    if (raw === undefined) throw new AuthenticationError('no-token');
    const token = decodeDeviceToken(raw);
    const sub = token.payload.sub;
    if (typeof sub !== 'string' || !UUID.test(sub)) throw new AuthenticationError('unknown-device');
    const context = requestContext(req);
    context.claimedDeviceId = sub;
    const device = await this.devices.find(sub);
    if (!device) throw new AuthenticationError('unknown-device');
    const key = selectKey(device, token);
    if (!key) throw new AuthenticationError('no-usable-key');
    const claims = verifyDeviceToken(token, key.key, { audience: this.audience, clockSkewSeconds: this.skew });

    const { jti, iat, exp, sv } = claims;
    if (typeof jti !== 'string') throw new AuthenticationError('claims-missing');
    if (!JTI.test(jti)) throw new AuthenticationError('malformed-jti');
    if (sv !== undefined && (typeof sv !== 'string' || !SOFTWARE_VERSION.test(sv))) throw new AuthenticationError('malformed-sv');
    if (typeof iat !== 'number' || typeof exp !== 'number') throw new AuthenticationError('claims-missing');
    if (iat > Date.now() / 1000 + this.skew) throw new AuthenticationError('iat-in-future');
    if (exp - iat > this.maxLifetime) throw new AuthenticationError('lifetime-too-long');
    if (device.status !== 'active') throw new AuthenticationError(`device-${device.status}`);
    // The device route's rate limits are counted in the same Redis round trip as the claim.
    const caller = { deviceId: device.id, terminalNumbers: device.terminalNumbers };
    if (!(await this.replay.claim(device.id, jti, new Date(exp * 1000), { req, caller }))) throw new AuthenticationError('jti-replayed');
    context.deviceId = device.id;
    // In memory only; written in batches (DeviceLiveness), never awaited here.
    this.liveness.seen(device.id, req.ip, sv);
    return { deviceId: device.id, policy: device.policy, terminalNumbers: device.terminalNumbers, jti };
  }
}

function bearerToken(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? AUTHORIZATION.exec(header) : null;
  return match && match[1].toLowerCase() === 'bearer' ? match[2] : undefined;
}

/**
 * The key named by `kid`; without `kid`, the key of the token's algorithm whose signature it
 * carries, so a token signed by a rotated-out key still verifies during its grace period (else
 * the newest of that algorithm, and verification then says why it fails). Expired keys are never used.
 */
function selectKey(device: DeviceAuthView, token: DeviceToken): DeviceKeyView | undefined {
  const now = Date.now();
  const usable = device.keys.filter((k) => k.expiresAt === undefined || k.expiresAt > now);
  const { kid, alg } = token.header;
  if (kid !== undefined) return usable.find((k) => k.id === kid);
  // Another algorithm (HS256, none...) is left to the verifier to refuse, with its precise reason.
  if (typeof alg !== 'string' || !DEVICE_KEY_ALGS.includes(alg)) return usable[0];
  const candidates = usable.filter((k) => k.alg === alg);
  if (candidates.length <= 1) return candidates[0];
  return candidates.find((k) => signatureMatches(token, alg, k.key)) ?? candidates[0];
}
