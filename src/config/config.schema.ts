import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
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
    TRUST_PROXY: bool.default(false),
    SHUTDOWN_TIMEOUT_MS: int(1_000, 120_000).default(20_000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    DATABASE_URL: optionalString.pipe(
      z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    ),
    DATABASE_POOL_MAX: int(1, 200).default(10),
    PGLITE_DATA_DIR: z.string().min(1).default('./data/pglite'),
    MIGRATE_ON_START: bool.optional(),

    SECRETS_PROVIDER: z.enum(['file']).default('file'),
    SECRETS_FILE: z.string().min(1).default('./data/dev-secrets.json'),
    SECRETS_CACHE_TTL_MS: int(0, 3_600_000).default(60_000),
    AUDIT_FINGERPRINT_KEY_REF: z.string().min(1).default('broker/audit-fingerprint-key'),

    DEVICE_JWT_AUDIENCE: z.string().min(1).default('pos-session-broker'),
    DEVICE_JWT_MAX_LIFETIME_SECONDS: int(10, 300).default(300),
    DEVICE_JWT_CLOCK_SKEW_SECONDS: int(0, 120).default(30),
    DEVICE_CACHE_TTL_MS: int(0, 60_000).default(5_000),

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

    AUDIT_BATCH_MAX: int(1, 5_000).default(500),

    REDIS_URL: optionalString.pipe(z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional()),
    DEVICE_RATE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(120),
    TERMINAL_RATE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(6_000),
    GLOBAL_RATE_LIMIT_PER_SECOND: int(1, 10_000_000).default(5_000),
    OPERATOR_RATE_LIMIT_PER_MINUTE: int(1, 10_000_000).default(600),

    HYP_SANDBOX: z.enum(['embedded', 'off']).default('off'),
    HYP_SANDBOX_HOST: z.string().min(1).default('127.0.0.1'),
    HYP_SANDBOX_PORT: int(0, 65535).default(8081),
    HYP_SANDBOX_LATENCY_MS: int(0, 120_000).default(0),
    HYP_SANDBOX_FORCE_RESULT: optionalString.pipe(z.string().regex(/^\d{3}$/).optional()),

    BOOTSTRAP_ENROLLMENT: bool.default(false),
    BOOTSTRAP_TOKEN_FILE: z.string().min(1).default('./data/bootstrap-token'),
  })
  .superRefine((c, ctx) => {
    if (c.NODE_ENV !== 'production') return;
    const refuse = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (!c.DATABASE_URL) refuse('DATABASE_URL', 'is required in production (the embedded PGlite database is for development only)');
    if (!c.HYP_DEFAULT_ENDPOINT) refuse('HYP_DEFAULT_ENDPOINT', 'is required in production');
    else if (!c.HYP_DEFAULT_ENDPOINT.startsWith('https://') || isLoopback(c.HYP_DEFAULT_ENDPOINT))
      refuse('HYP_DEFAULT_ENDPOINT', 'must be a real https:// gateway URL in production, not the sandbox');
    if (c.HYP_SANDBOX !== 'off') refuse('HYP_SANDBOX', 'must be off in production');
    if (c.BOOTSTRAP_ENROLLMENT) refuse('BOOTSTRAP_ENROLLMENT', 'is a development bootstrap and must be false in production');
    if (c.SECRETS_FILE === './data/dev-secrets.json') refuse('SECRETS_FILE', 'points at the generated development secrets');
  });

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
