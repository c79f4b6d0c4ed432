import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Body, Controller, Header, HttpCode, Post, Req } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ZodValidationPipe } from 'nestjs-zod';
import { z } from 'zod';
import { AuditTrail } from '../audit/audit-trail';
import { ConflictError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import type { Config } from '../config/config.schema';
import { auditOrigin } from '../http/audit-origin';
import { ensureLocalOperatorKey, signLocalOperatorToken } from '../operators/local-operator-key';
import { OPERATOR_ROLES } from '../operators/operator';

const devTokenSchema = z.strictObject({
  roles: z
    .array(z.enum(OPERATOR_ROLES as ['admin', 'auditor']))
    .min(1, 'choose at least one role')
    .max(2)
    .transform((r) => [...new Set(r)]),
  subject: z
    .string()
    .trim()
    .regex(/^[\x21-\x7e]{1,64}$/, 'printable ASCII without spaces, at most 64')
    .optional(),
});
type DevTokenRequest = z.infer<typeof devTokenSchema>;

export interface DevToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  expiresAt: string;
  subject: string;
  roles: string[];
}

/**
 * "Sign in (development)": a short-lived operator token signed with the embedded mode's local key
 * (what `npm run cli -- operator:token` does), for the console's development sign-in. The module
 * registers this controller only with CONSOLE_DEV_SIGN_IN, which production refuses; it mints only
 * when the broker actually trusts the local key, so it can never stand in for a real IdP's keys.
 * Each token minted is an audit event, like any other way in.
 */
@ApiExcludeController()
@Controller('console')
export class DevTokenController {
  constructor(
    private readonly config: AppConfig,
    private readonly audit: AuditTrail,
  ) {}

  @Post('dev-token')
  @HttpCode(201)
  @Header('cache-control', 'no-store')
  async mint(@Body(new ZodValidationPipe(devTokenSchema)) body: DevTokenRequest, @Req() req: FastifyRequest): Promise<DevToken> {
    const c = this.config.values;
    const key = ensureLocalOperatorKey(c.OPERATOR_LOCAL_KEY_FILE);
    if (!trustsLocalKey(c, key)) {
      throw new ConflictError(
        'Development sign-in needs the broker to trust its local operator key (OPERATOR_LOCAL_KEY_FILE); an identity provider is configured instead: sign in with it.',
      );
    }
    const ttl = c.CONSOLE_DEV_TOKEN_TTL_SECONDS;
    const subject = body.subject ?? 'console:developer';
    const accessToken = signLocalOperatorToken(c, key, { roles: body.roles, subject, ttlSeconds: ttl });
    const expiresAt = new Date(Date.now() + ttl * 1000).toISOString();
    await this.audit.record({
      action: 'console.dev-token',
      // Not 'issued': that outcome counts gateway sessions (Activity, metrics).
      outcome: 'success',
      actorType: 'operator',
      actorId: subject,
      ...auditOrigin(req),
      details: { roles: body.roles, expiresAt },
    });
    return { accessToken, tokenType: 'Bearer', expiresIn: ttl, expiresAt, subject, roles: body.roles };
  }
}

/** Whether the operator key the broker verifies with is the local key's public half. */
function trustsLocalKey(c: Config, key: KeyObject): boolean {
  const pem = c.OPERATOR_JWT_PUBLIC_KEY ?? (c.OPERATOR_JWT_PUBLIC_KEY_FILE ? readFileSync(c.OPERATOR_JWT_PUBLIC_KEY_FILE, 'utf8') : undefined);
  if (pem === undefined) return false;
  try {
    const trusted = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    return trusted.equals(createPublicKey(key).export({ type: 'spki', format: 'der' }));
  } catch {
    return false;
  }
}
