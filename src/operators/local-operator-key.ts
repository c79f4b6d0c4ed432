import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { sign } from 'jsonwebtoken';
import { type Config, LOCAL_OPERATOR_ISSUER } from '../config/config.schema';
import { OPERATOR_ROLES, type OperatorRole } from './operator';

/**
 * The embedded mode's stand-in for an identity provider: an ES256 key created on first start
 * (OPERATOR_LOCAL_KEY_FILE, readable by the local user only) that `npm run cli -- operator:token`
 * signs operator tokens with. The production configuration refuses it.
 */
export function ensureLocalOperatorKey(path: string): KeyObject {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  }
  return createPrivateKey(readFileSync(path, 'utf8'));
}

/** The settings that make the broker accept the local key's tokens, unless another key source is configured. */
export function localOperatorSettings(c: Config, key: KeyObject): Record<string, string> {
  if (c.OPERATOR_JWKS_URI || c.OPERATOR_JWT_PUBLIC_KEY || c.OPERATOR_JWT_PUBLIC_KEY_FILE) return {};
  return {
    OPERATOR_JWT_PUBLIC_KEY: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
    OPERATOR_JWT_ISSUER: c.OPERATOR_JWT_ISSUER ?? LOCAL_OPERATOR_ISSUER,
  };
}

export const OPERATOR_TOKEN_USAGE = 'operator:token --roles admin,auditor [--subject NAME] [--ttl SECONDS (60-86400, default 3600)]';

/** `operator:token`: mints an operator token from the local key. Throws a usage message on bad input. */
export function mintLocalOperatorToken(args: string[], c: Config, user = 'unknown'): string {
  if (c.NODE_ENV === 'production')
    throw new Error('operator:token is for the embedded development mode; in production tokens come from your identity provider.');
  if (c.OPERATOR_JWKS_URI || c.OPERATOR_JWT_PUBLIC_KEY || c.OPERATOR_JWT_PUBLIC_KEY_FILE) {
    throw new Error(
      'An identity provider key is configured (OPERATOR_JWKS_URI / OPERATOR_JWT_PUBLIC_KEY[_FILE]): the broker would refuse a locally minted token.',
    );
  }
  const { values } = parseArgs({ args, options: { roles: { type: 'string' }, subject: { type: 'string' }, ttl: { type: 'string' } } });
  const roles = (values.roles ?? '')
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (roles.length === 0 || !roles.every((r): r is OperatorRole => (OPERATOR_ROLES as readonly string[]).includes(r))) {
    throw new Error(`--roles must list ${OPERATOR_ROLES.join(' and/or ')}\nusage: ${OPERATOR_TOKEN_USAGE}`);
  }
  const ttl = Number(values.ttl ?? 3600);
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) throw new Error(`--ttl must be 60 to 86400 seconds\nusage: ${OPERATOR_TOKEN_USAGE}`);
  const subject = values.subject?.trim() || `local:${user}`;
  return signLocalOperatorToken(c, ensureLocalOperatorKey(c.OPERATOR_LOCAL_KEY_FILE), { roles, subject, ttlSeconds: ttl });
}

/** An operator token signed with the local key, as the broker in embedded mode accepts it (CLI and the console's development sign-in). */
export function signLocalOperatorToken(c: Config, key: KeyObject, t: { roles: readonly OperatorRole[]; subject: string; ttlSeconds: number }): string {
  return sign({ roles: t.roles }, key, {
    algorithm: 'ES256',
    subject: t.subject,
    issuer: c.OPERATOR_JWT_ISSUER ?? LOCAL_OPERATOR_ISSUER,
    audience: c.OPERATOR_JWT_AUDIENCE,
    expiresIn: t.ttlSeconds,
    jwtid: randomUUID(),
  });
}
