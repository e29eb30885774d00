import { z } from 'zod';

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .optional()
    .transform((value) => (value === undefined ? fallback : ['true', '1', 'yes'].includes(value)));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return fallback;
      if (!/^\d+$/.test(value.trim())) {
        ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      const parsed = Number(value);
      if (parsed < min || parsed > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      return parsed;
    });

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

const url = (protocols: string[]) =>
  optionalString.refine(
    (value) => {
      if (value === undefined) return true;
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL (${protocols.join(' or ')})` },
  );

/**
 * Every environment variable AgentIdP reads. `.env.example` documents each one; keep the two in step.
 */
export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: optionalString.transform((value) => value ?? '0.0.0.0'),
    PORT: int(3000, 0, 65535),
    PUBLIC_URL: url(['http:', 'https:']),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'verbose'], {
        message: 'must be one of fatal, error, warn, info, debug, verbose',
      })
      .default('info'),
    TRUST_PROXY: bool(false),
    CORS_ORIGINS: optionalString,
    BODY_LIMIT_BYTES: int(65536, 1024, 10 * 1024 * 1024),
    SHUTDOWN_TIMEOUT_MS: int(10000, 0, 600000),
    HEAP_GROWTH_PERCENT: int(100, 0, 1000),

    DATABASE_URL: url(['postgres:', 'postgresql:']),
    DATA_DIR: optionalString.transform((value) => value ?? './data'),
    DB_POOL_SIZE: int(10, 1, 500),
    DB_MIGRATIONS_RUN: bool(true),
    DB_CONNECT_TIMEOUT_MS: int(3000, 100, 60000),
    DB_STATEMENT_TIMEOUT_MS: int(10000, 0, 600000),
    DB_SSL: bool(false),

    BCRYPT_COST: int(12, 4, 15),
    BCRYPT_CONCURRENCY: int(2, 1, 64),
    SECRET_CACHE_TTL_SECONDS: int(300, 0, 86400),
    TOKEN_TTL_SECONDS: int(3600, 30, 86400),
    TOKEN_AUDIENCE: optionalString,
    SIGNING_KEYS_ENCRYPTION_KEY: optionalString.refine(
      (value) => value === undefined || Buffer.from(value, 'base64').length === 32,
      { message: 'must be 32 random bytes, base64-encoded (openssl rand -base64 32)' },
    ),
    SIGNING_KEY_ROTATION_DAYS: int(90, 0, 3650),

    BOOTSTRAP_ADMIN_CLIENT_ID: optionalString.refine(
      (value) =>
        value === undefined ||
        /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(value),
      { message: 'must be a UUID' },
    ),
    BOOTSTRAP_ADMIN_CLIENT_SECRET: optionalString.refine(
      (value) => value === undefined || value.length >= 32,
      { message: 'must be at least 32 characters' },
    ),

    VAULT_ADDR: url(['http:', 'https:']),
    VAULT_TOKEN: optionalString,
    VAULT_KV_MOUNT: optionalString,
    VAULT_MOUNT: optionalString,
    VAULT_NAMESPACE: optionalString,
    VAULT_TIMEOUT_MS: int(2000, 50, 60000),
    VAULT_MIGRATE_ON_USE: bool(false),
    VAULT_RENEW_INCREMENT_SECONDS: int(2592000, 60, 315360000),

    LOCKOUT_MAX_FAILURES: int(5, 0, 1000),
    LOCKOUT_WINDOW_SECONDS: int(900, 1, 86400),
    RATE_LIMIT_TOKEN_PER_MINUTE: int(600, 0, 10000000),
    RATE_LIMIT_API_PER_MINUTE: int(300, 0, 10000000),
    REDIS_URL: url(['redis:', 'rediss:']),
    REDIS_KEY_PREFIX: optionalString.transform((value) => value ?? 'agentidp:'),
  })
  .superRefine((env, ctx) => {
    if (env.VAULT_ADDR && !env.VAULT_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['VAULT_TOKEN'],
        message: 'is required when VAULT_ADDR is set',
      });
    }
    if (Boolean(env.BOOTSTRAP_ADMIN_CLIENT_ID) !== Boolean(env.BOOTSTRAP_ADMIN_CLIENT_SECRET)) {
      ctx.addIssue({
        code: 'custom',
        path: [
          env.BOOTSTRAP_ADMIN_CLIENT_ID
            ? 'BOOTSTRAP_ADMIN_CLIENT_SECRET'
            : 'BOOTSTRAP_ADMIN_CLIENT_ID',
        ],
        message: 'BOOTSTRAP_ADMIN_CLIENT_ID and BOOTSTRAP_ADMIN_CLIENT_SECRET are set together',
      });
    }
  });

export type Env = z.output<typeof envSchema>;
