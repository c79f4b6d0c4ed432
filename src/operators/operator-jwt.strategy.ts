import { Injectable, Logger } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { decode } from 'jsonwebtoken';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AuthenticationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { OPERATOR_ROLES, type OperatorPrincipal, type OperatorRole } from './operator';
import { operatorKeyProvider } from './operator-keys';
import { requestContext } from '../http/request-context';

export const OPERATOR_JWT = 'operator-jwt';
const MAX_SUBJECT_LENGTH = 256;

/**
 * Operator (admin, auditor) JWTs from the company's identity provider. passport-jwt checks the
 * signature (algorithm allow-list, asymmetric only), audience, issuer and expiry; this requires a
 * subject and an expiry and reads the roles claim. The audience differs from the devices' (the
 * configuration refuses equal ones) and the keys are the identity provider's, never a device's.
 */
@Injectable()
export class OperatorJwtStrategy extends PassportStrategy(Strategy, OPERATOR_JWT) {
  private readonly rolesClaim: string;

  constructor(config: AppConfig) {
    const c = config.values;
    const { provider, source } = operatorKeyProvider(c);
    const algorithms: readonly string[] = c.OPERATOR_JWT_ALGORITHMS;
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      algorithms: [...algorithms],
      audience: c.OPERATOR_JWT_AUDIENCE,
      issuer: c.OPERATOR_JWT_ISSUER,
      ignoreExpiration: false,
      jsonWebTokenOptions: { clockTolerance: c.OPERATOR_JWT_CLOCK_SKEW_SECONDS },
      passReqToCallback: true,
      secretOrKeyProvider: (req: FastifyRequest, raw: string, done: (err: unknown, key?: unknown) => void) => {
        const token = decode(raw, { complete: true });
        if (!token || typeof token.payload !== 'object') return done(new AuthenticationError('malformed-token'));
        if (typeof token.payload.sub === 'string') claimedOperator(req, token.payload.sub.slice(0, MAX_SUBJECT_LENGTH));
        // Refused before any key look-up, so a JWKS is never fetched for a token we would refuse anyway.
        if (!algorithms.includes(token.header.alg)) return done(new AuthenticationError('algorithm-refused'));
        provider(req, raw, done);
      },
    } as ConstructorParameters<typeof Strategy>[0]);
    this.rolesClaim = c.OPERATOR_JWT_ROLES_CLAIM;
    new Logger('OperatorAuth').log(`operator tokens verified with: ${source}`);
  }

  validate(_req: FastifyRequest, claims: Record<string, unknown>): OperatorPrincipal {
    const { sub, exp } = claims;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUBJECT_LENGTH) throw new AuthenticationError('claims-missing');
    // A token without expiry would be valid forever.
    if (typeof exp !== 'number') throw new AuthenticationError('claims-missing');
    return { subject: sub, roles: rolesOf(claims, this.rolesClaim) };
  }
}

/**
 * The broker's roles named by the roles claim: an array or a space/comma separated string, at
 * the claim's name (`roles`, `https://example.com/roles`) or a dotted path (`realm_access.roles`).
 * Unknown role names are ignored.
 */
export function rolesOf(claims: Record<string, unknown>, claim: string): ReadonlySet<OperatorRole> {
  let value: unknown = claims[claim];
  if (value === undefined && claim.includes('.')) {
    value = claim.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), claims);
  }
  const names = typeof value === 'string' ? value.split(/[\s,]+/) : Array.isArray(value) ? value : [];
  return new Set(OPERATOR_ROLES.filter((r) => names.includes(r)));
}

/** Which operator the (not yet verified) token names: for the audit record of a refusal. */
export function claimedOperator(req: FastifyRequest, subject?: string): string | undefined {
  const context = requestContext(req);
  if (subject !== undefined) context.claimedOperator = subject;
  return context.claimedOperator;
}
