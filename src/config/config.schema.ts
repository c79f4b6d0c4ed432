import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';

/** Issuer of the tokens `npm run cli -- operator:token` mints from the embedded mode's local key. */
export const LOCAL_OPERATOR_ISSUER = 'pos-session-broker-local';
/** Asymmetric algorithms jsonwebtoken verifies; never HS* (a shared secret) nor none. */
export const OPERATOR_JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'] as const;

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

/**
 * Every setting of the service, read once from the environment at start. `.env.example` documents
 * each one; a missing or bad value stops the start with a message that names it.
 */
export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: int(0, 65535).default(8080),
    /** Proxies whose X-Forwarded-For is believed (addresses or CIDRs); empty: the peer address is the client. */
    TRUSTED_PROXIES: z
      .string()
      .default('')
      .transform((s) =>
        s
          .split(',')
          .map((a) => a.trim())
          .filter((a) => a !== ''),
      )
      .pipe(z.array(z.string().refine(isAddressOrCidr, 'must be comma-separated IP addresses or CIDRs (10.0.0.0/8, ::1)'))),
    /** Replaced by TRUSTED_PROXIES: refused when set, so an old `true` cannot silently mean something else. */
    TRUST_PROXY: optionalString,
    /** Prometheus /metrics is served on this port only (never on PORT); `off` disables it, 0 picks a free one. */
    METRICS_PORT: z.union([z.literal('off'), int(0, 65535)]).default(9464),
    METRICS_HOST: optionalString,
    SHUTDOWN_TIMEOUT_MS: int(1_000, 120_000).default(20_000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
        .optional(),
    ),
    AUDIT_READ_DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
        .optional(),
    ),
    DATABASE_POOL_MAX: int(1, 200).default(10),
    DATABASE_CONNECT_TIMEOUT_MS: int(100, 60_000).default(5_000),
    DATABASE_STATEMENT_TIMEOUT_MS: int(100, 3_600_000).default(15_000),
    DATABASE_QUERY_TIMEOUT_MS: int(100, 3_600_000).default(20_000),
    DATABASE_KEEPALIVE_DELAY_MS: int(1_000, 600_000).default(10_000),
    PGLITE_DATA_DIR: z.string().min(1).default('./data/pglite'),
    MIGRATE_ON_START: bool.optional(),

    SECRETS_PROVIDER: z.enum(['file', 'vault']).default('file'),
    SECRETS_FILE: z.string().min(1).default('./data/dev-secrets.json'),
    SECRETS_CACHE_TTL_MS: int(0, 3_600_000).default(60_000),
    AUDIT_FINGERPRINT_KEY_REF: z.string().min(1).default('broker/audit-fingerprint-key'),
    /** Secret holding the seals' asymmetric signing key (`privateKey`, PKCS#8 PEM, Ed25519 or P-256); unset: an Ed25519 key derived from the audit key. */
    AUDIT_SEAL_KEY_REF: optionalString,
    VAULT_ADDR: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    VAULT_NAMESPACE: optionalString,
    VAULT_KV_MOUNT: z
      .string()
      .regex(/^(?!(.*\/)?\.{1,2}(\/|$))[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'must be a mount path like secret or kv/pos')
      .default('secret'),
    VAULT_AUTH_METHOD: z.enum(['token', 'approle', 'kubernetes']).default('token'),
    VAULT_AUTH_MOUNT: optionalString.pipe(
      z
        .string()
        .regex(/^(?!(.*\/)?\.{1,2}(\/|$))[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'must be an auth mount path like approle')
        .optional(),
    ),
    VAULT_TOKEN: optionalString,
    VAULT_TOKEN_FILE: optionalString,
    VAULT_APPROLE_ROLE_ID: optionalString,
    VAULT_APPROLE_ROLE_ID_FILE: optionalString,
    VAULT_APPROLE_SECRET_ID: optionalString,
    VAULT_APPROLE_SECRET_ID_FILE: optionalString,
    VAULT_KUBERNETES_ROLE: optionalString,
    VAULT_KUBERNETES_JWT_PATH: z.string().min(1).default('/var/run/secrets/kubernetes.io/serviceaccount/token'),
    VAULT_CA_FILE: optionalString,
    VAULT_MAX_STALENESS_MS: int(0, 604_800_000).default(900_000),
    VAULT_REQUEST_TIMEOUT_MS: int(100, 60_000).default(5_000),

    DEVICE_JWT_AUDIENCE: z.string().min(1).default('pos-session-broker'),
    DEVICE_JWT_MAX_LIFETIME_SECONDS: int(10, 300).default(300),
    DEVICE_JWT_CLOCK_SKEW_SECONDS: int(0, 120).default(30),
    DEVICE_CACHE_TTL_MS: int(0, 60_000).default(5_000),
    DEVICE_KEY_ROTATION_GRACE_SECONDS: int(0, 2_592_000).default(86_400),
    /** Device liveness (lastSeenAt, lastIp, softwareVersion): each instance writes its sightings once per interval, in one statement. */
    DEVICE_LIVENESS_FLUSH_MS: int(10, 3_600_000).default(60_000),

    OPERATOR_JWKS_URI: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    OPERATOR_JWT_PUBLIC_KEY: optionalString,
    OPERATOR_JWT_PUBLIC_KEY_FILE: optionalString,
    OPERATOR_JWT_ISSUER: optionalString,
    OPERATOR_JWT_AUDIENCE: z.string().min(1).default('pos-session-broker-operators'),
    OPERATOR_JWT_ROLES_CLAIM: z.string().min(1).default('roles'),
    OPERATOR_JWT_ALGORITHMS: z
      .string()
      .default('RS256,ES256')
      .transform((s) =>
        s
          .split(',')
          .map((a) => a.trim())
          .filter((a) => a !== ''),
      )
      .pipe(z.array(z.enum(OPERATOR_JWT_ALGORITHMS)).min(1)),
    OPERATOR_JWT_CLOCK_SKEW_SECONDS: int(0, 300).default(30),
    OPERATOR_JWKS_CACHE_MAX_AGE_MS: int(1_000, 86_400_000).default(600_000),
    OPERATOR_JWKS_REFETCH_INTERVAL_MS: int(0, 3_600_000).default(30_000),
    OPERATOR_LOCAL_KEY_FILE: z.string().min(1).default('./data/operator-key.pem'),

    HYP_DEFAULT_ENDPOINT: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    GATEWAY_CONNECT_TIMEOUT_MS: int(100, 60_000).default(3_000),
    GATEWAY_HEADERS_TIMEOUT_MS: int(100, 120_000).default(10_000),
    GATEWAY_BODY_TIMEOUT_MS: int(100, 120_000).default(10_000),
    GATEWAY_MAX_RESPONSE_BYTES: int(1_024, 1_048_576).default(65_536),
    GATEWAY_CONNECTIONS_PER_ORIGIN: int(1, 1_024).default(64),
    GATEWAY_CA_FILE: optionalString,
    GATEWAY_RETRY_MAX_ATTEMPTS: int(1, 10).default(3),
    GATEWAY_RETRY_BASE_DELAY_MS: int(1, 10_000).default(100),
    REQUEST_DEADLINE_MS: int(100, 120_000).default(8_000),
    GATEWAY_BREAKER_THRESHOLD: int(1, 1_000).default(5),
    GATEWAY_BREAKER_HALF_OPEN_AFTER_MS: int(100, 600_000).default(10_000),
    GATEWAY_BULKHEAD_LIMIT: int(1, 10_000).default(64),
    GATEWAY_BULKHEAD_QUEUE: int(0, 100_000).default(512),
    PAYROC_TOKEN_REFRESH_MARGIN_SECONDS: int(0, 3_600).default(60),

    AUDIT_BATCH_MAX: int(1, 5_000).default(500),
    AUDIT_SEAL_INTERVAL_MS: int(0, 86_400_000).default(60_000),
    AUDIT_SEAL_SETTLE_MS: int(0, 600_000).default(10_000),
    AUDIT_SEAL_MAX_EVENTS: int(1, 100_000).default(10_000),
    AUDIT_RETENTION_DAYS: int(0, 36_500).default(0),
    AUDIT_PARTITION_PERIOD: z.enum(['day', 'week', 'month']).default('month'),
    AUDIT_PARTITIONS_AHEAD: int(1, 400).default(2),
    AUDIT_PARTITION_INTERVAL_MS: int(0, 86_400_000).default(3_600_000),

    REDIS_URL: optionalString.pipe(
      z
        .string()
        .regex(/^rediss?:\/\//, 'must be a redis:// URL')
        .optional(),
    ),
    REDIS_COMMAND_TIMEOUT_MS: int(50, 60_000).default(2_000),
    REDIS_CONNECT_TIMEOUT_MS: int(100, 60_000).default(2_000),
    REDIS_KEEPALIVE_DELAY_MS: int(1_000, 600_000).default(10_000),
    DEVICE_RATE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(120),
    TERMINAL_RATE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(6_000),
    GLOBAL_RATE_LIMIT_PER_SECOND: int(1, 10_000_000).default(5_000),
    OPERATOR_RATE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(600),
    ENROLLMENT_RATE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(20),
    ENROLLMENT_PUBLIC_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    AUTH_FAILURE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(300),
    AUTH_REFUSAL_AUDIT_INTERVAL_MS: int(0, 3_600_000).default(60_000),

    HYP_SANDBOX: z.enum(['embedded', 'off']).default('off'),
    HYP_SANDBOX_HOST: z.string().min(1).default('127.0.0.1'),
    HYP_SANDBOX_PORT: int(0, 65535).default(8081),
    HYP_SANDBOX_LATENCY_MS: int(0, 120_000).default(0),
    HYP_SANDBOX_FORCE_RESULT: optionalString.pipe(
      z
        .string()
        .regex(/^\d{3}$/)
        .optional(),
    ),

    BOOTSTRAP_ENROLLMENT: bool.default(false),
    BOOTSTRAP_TOKEN_FILE: z.string().min(1).default('./data/bootstrap-token'),

    /** The operator console (console/dist) at /console/; off: not served. */
    CONSOLE_ENABLED: bool.default(true),
    CONSOLE_DIST_DIR: z.string().min(1).default('./console/dist'),
    /** "Sign in (development)": POST /console/dev-token mints operator tokens from the local key; embedded mode only. */
    CONSOLE_DEV_SIGN_IN: bool.default(false),
    CONSOLE_DEV_TOKEN_TTL_SECONDS: int(60, 3_600).default(900),
    /** The console's OpenID provider (authorization code + PKCE); unset: OPERATOR_JWT_ISSUER. */
    CONSOLE_OIDC_ISSUER: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
    CONSOLE_OIDC_CLIENT_ID: optionalString,
    CONSOLE_OIDC_SCOPES: z.string().min(1).default('openid profile'),
    /** Resource indicator (RFC 8707) asked for, so the access token is issued for the broker's audience. */
    CONSOLE_OIDC_RESOURCE: optionalString,
  })
  .superRefine((c, ctx) => {
    const refuse = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    // Different audiences: a device token can never pass as an operator token, nor the reverse.
    if (c.OPERATOR_JWT_AUDIENCE === c.DEVICE_JWT_AUDIENCE) refuse('OPERATOR_JWT_AUDIENCE', 'must differ from DEVICE_JWT_AUDIENCE');
    const operatorKeySources = [c.OPERATOR_JWKS_URI, c.OPERATOR_JWT_PUBLIC_KEY, c.OPERATOR_JWT_PUBLIC_KEY_FILE].filter((v) => v !== undefined);
    if (operatorKeySources.length > 1) refuse('OPERATOR_JWKS_URI', 'set only one of OPERATOR_JWKS_URI, OPERATOR_JWT_PUBLIC_KEY, OPERATOR_JWT_PUBLIC_KEY_FILE');
    if (c.SECRETS_PROVIDER === 'vault') {
      if (!c.VAULT_ADDR) refuse('VAULT_ADDR', 'is required with SECRETS_PROVIDER=vault');
      if (c.VAULT_MAX_STALENESS_MS < c.SECRETS_CACHE_TTL_MS) refuse('VAULT_MAX_STALENESS_MS', 'must be at least SECRETS_CACHE_TTL_MS');
      const either = (value: string | undefined, file: string | undefined, name: string) => {
        if (!value && !file) refuse(name, `${name} or ${name}_FILE is required with VAULT_AUTH_METHOD=${c.VAULT_AUTH_METHOD}`);
        if (value && file) refuse(name, `set only one of ${name} and ${name}_FILE`);
      };
      if (c.VAULT_AUTH_METHOD === 'token') either(c.VAULT_TOKEN, c.VAULT_TOKEN_FILE, 'VAULT_TOKEN');
      if (c.VAULT_AUTH_METHOD === 'approle') {
        either(c.VAULT_APPROLE_ROLE_ID, c.VAULT_APPROLE_ROLE_ID_FILE, 'VAULT_APPROLE_ROLE_ID');
        either(c.VAULT_APPROLE_SECRET_ID, c.VAULT_APPROLE_SECRET_ID_FILE, 'VAULT_APPROLE_SECRET_ID');
      }
      if (c.VAULT_AUTH_METHOD === 'kubernetes' && !c.VAULT_KUBERNETES_ROLE) refuse('VAULT_KUBERNETES_ROLE', 'is required with VAULT_AUTH_METHOD=kubernetes');
    }
    if (c.TRUST_PROXY !== undefined) refuse('TRUST_PROXY', "is replaced by TRUSTED_PROXIES (the proxies' addresses or CIDRs)");
    if (c.METRICS_PORT !== 'off' && c.METRICS_PORT !== 0 && c.METRICS_PORT === c.PORT) refuse('METRICS_PORT', 'must differ from PORT');
    if (c.NODE_ENV !== 'production') return;
    if (c.OPERATOR_JWKS_URI && !c.OPERATOR_JWKS_URI.startsWith('https://'))
      refuse('OPERATOR_JWKS_URI', 'must be https:// in production (the keys that admit operators)');
    if (c.OPERATOR_JWKS_REFETCH_INTERVAL_MS < 1_000)
      refuse('OPERATOR_JWKS_REFETCH_INTERVAL_MS', 'must be at least 1000 in production (junk key ids would hammer the identity provider)');
    if (c.AUTH_REFUSAL_AUDIT_INTERVAL_MS < 1_000)
      refuse('AUTH_REFUSAL_AUDIT_INTERVAL_MS', 'must be at least 1000 in production (a flood of refusals would grow the audit trail without bound)');
    if (!c.DATABASE_URL) refuse('DATABASE_URL', 'is required in production (the embedded PGlite database is for development only)');
    if (!c.HYP_DEFAULT_ENDPOINT) refuse('HYP_DEFAULT_ENDPOINT', 'is required in production');
    else if (!c.HYP_DEFAULT_ENDPOINT.startsWith('https://') || isLoopback(c.HYP_DEFAULT_ENDPOINT))
      refuse('HYP_DEFAULT_ENDPOINT', 'must be a real https:// gateway URL in production, not the sandbox');
    if (c.HYP_SANDBOX !== 'off') refuse('HYP_SANDBOX', 'must be off in production');
    if (c.BOOTSTRAP_ENROLLMENT) refuse('BOOTSTRAP_ENROLLMENT', 'is a development bootstrap and must be false in production');
    if (c.CONSOLE_DEV_SIGN_IN) refuse('CONSOLE_DEV_SIGN_IN', 'mints operator tokens from the local development key and must be false in production');
    if (c.SECRETS_PROVIDER === 'file') refuse('SECRETS_PROVIDER', 'must be vault in production (the file provider is for development)');
    // Plain http only to a local Vault Agent / Proxy listener; anything across the network needs TLS.
    if (c.VAULT_ADDR && !c.VAULT_ADDR.startsWith('https://') && !isLoopback(c.VAULT_ADDR))
      refuse('VAULT_ADDR', 'must be https:// in production (plain http only to a Vault Agent on loopback)');
    if (c.AUDIT_RETENTION_DAYS > 0 && c.AUDIT_RETENTION_DAYS < 365)
      refuse('AUDIT_RETENTION_DAYS', 'must be 0 (keep forever) or at least 365 in production (PCI DSS 10.5.1 keeps a year)');
    if (c.AUDIT_SEAL_SETTLE_MS < 1_000)
      refuse('AUDIT_SEAL_SETTLE_MS', 'must be at least 1000 in production (shorter, a slow audit insert would look like tampering)');
    if (operatorKeySources.length > 0 && !c.OPERATOR_JWT_ISSUER) refuse('OPERATOR_JWT_ISSUER', 'is required in production when operator tokens are accepted');
    if (c.OPERATOR_JWT_ISSUER === LOCAL_OPERATOR_ISSUER)
      refuse('OPERATOR_JWT_ISSUER', 'is the embedded development issuer (local operator key); use your identity provider');
    if (c.OPERATOR_JWT_PUBLIC_KEY_FILE !== undefined && resolvePath(c.OPERATOR_JWT_PUBLIC_KEY_FILE) === resolvePath(c.OPERATOR_LOCAL_KEY_FILE))
      refuse('OPERATOR_JWT_PUBLIC_KEY_FILE', 'points at the generated development operator key');
  });

/** `10.1.2.3`, `::1`, `10.0.0.0/8`, `fd00::/8`: what Fastify's trustProxy (proxy-addr) accepts. */
function isAddressOrCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]';
}

export type Config = z.infer<typeof configSchema>;

/** Validates the raw environment; throws one Error naming every bad setting. */
export function validateConfig(env: Record<string, unknown>): Config {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
}
