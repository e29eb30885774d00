import { resolve } from 'node:path';
import { envSchema, type Env } from './env.schema';

/** Raised when the environment does not validate; names every bad variable at once. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((line) => `  - ${line}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

export interface VaultConfig {
  addr: string;
  token: string;
  mount: string;
  namespace?: string;
  timeoutMs: number;
  migrateOnUse: boolean;
  renewIncrementSeconds: number;
}

/**
 * The validated, typed configuration. Injected by class: `constructor(private readonly config: AppConfig)`.
 * Secret values (Vault token, encryption key, bootstrap secret) live here but are never logged.
 */
export class AppConfig {
  readonly nodeEnv: Env['NODE_ENV'];
  readonly http: {
    host: string;
    port: number;
    publicUrl: string;
    trustProxy: boolean;
    corsOrigins: string[];
    bodyLimitBytes: number;
    shutdownTimeoutMs: number;
  };
  /**
   * How far V8 lets the old generation grow past what survived the last full collection, in
   * percent (0: V8's own factor, up to 300 % when collections are cheap).
   */
  readonly runtime: { heapGrowthPercent: number };
  readonly log: { level: Env['LOG_LEVEL'] };
  readonly database: {
    url?: string;
    dataDir: string;
    poolSize: number;
    migrationsRun: boolean;
    connectTimeoutMs: number;
    statementTimeoutMs: number;
    ssl: boolean;
  };
  readonly secrets: { bcryptCost: number; bcryptConcurrency: number; cacheTtlSeconds: number };
  readonly token: {
    ttlSeconds: number;
    audience: string;
    encryptionKey?: Buffer;
    signingKeyRotationDays: number;
  };
  readonly bootstrap: { clientId?: string; clientSecret?: string };
  readonly vault?: VaultConfig;
  readonly abuse: {
    lockoutMaxFailures: number;
    lockoutWindowSeconds: number;
    tokenRatePerMinute: number;
    apiRatePerMinute: number;
    redisUrl?: string;
    redisKeyPrefix: string;
  };

  constructor(env: Env) {
    const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
    this.nodeEnv = env.NODE_ENV;
    this.http = {
      host: env.HOST,
      port: env.PORT,
      publicUrl,
      trustProxy: env.TRUST_PROXY,
      corsOrigins: (env.CORS_ORIGINS ?? '')
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
      bodyLimitBytes: env.BODY_LIMIT_BYTES,
      shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    };
    this.runtime = { heapGrowthPercent: env.HEAP_GROWTH_PERCENT };
    this.log = { level: env.LOG_LEVEL };
    this.database = {
      url: env.DATABASE_URL,
      dataDir: resolve(env.DATA_DIR),
      poolSize: env.DB_POOL_SIZE,
      migrationsRun: env.DB_MIGRATIONS_RUN,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      ssl: env.DB_SSL,
    };
    this.secrets = {
      bcryptCost: env.BCRYPT_COST,
      bcryptConcurrency: env.BCRYPT_CONCURRENCY,
      cacheTtlSeconds: env.SECRET_CACHE_TTL_SECONDS,
    };
    this.token = {
      ttlSeconds: env.TOKEN_TTL_SECONDS,
      audience: env.TOKEN_AUDIENCE ?? publicUrl,
      encryptionKey: env.SIGNING_KEYS_ENCRYPTION_KEY
        ? Buffer.from(env.SIGNING_KEYS_ENCRYPTION_KEY, 'base64')
        : undefined,
      signingKeyRotationDays: env.SIGNING_KEY_ROTATION_DAYS,
    };
    this.bootstrap = {
      clientId: env.BOOTSTRAP_ADMIN_CLIENT_ID?.toLowerCase(),
      clientSecret: env.BOOTSTRAP_ADMIN_CLIENT_SECRET,
    };
    if (env.VAULT_ADDR && env.VAULT_TOKEN) {
      this.vault = {
        addr: env.VAULT_ADDR.replace(/\/+$/, ''),
        token: env.VAULT_TOKEN,
        mount: (env.VAULT_KV_MOUNT ?? env.VAULT_MOUNT ?? 'secret').replace(/^\/+|\/+$/g, ''),
        namespace: env.VAULT_NAMESPACE,
        timeoutMs: env.VAULT_TIMEOUT_MS,
        migrateOnUse: env.VAULT_MIGRATE_ON_USE,
        renewIncrementSeconds: env.VAULT_RENEW_INCREMENT_SECONDS,
      };
    }
    this.abuse = {
      lockoutMaxFailures: env.LOCKOUT_MAX_FAILURES,
      lockoutWindowSeconds: env.LOCKOUT_WINDOW_SECONDS,
      tokenRatePerMinute: env.RATE_LIMIT_TOKEN_PER_MINUTE,
      apiRatePerMinute: env.RATE_LIMIT_API_PER_MINUTE,
      redisUrl: env.REDIS_URL,
      redisKeyPrefix: env.REDIS_KEY_PREFIX,
    };
  }

  /** True when no DATABASE_URL is set and the embedded PostgreSQL (PGlite) serves the data. */
  get embeddedDatabase(): boolean {
    return this.database.url === undefined;
  }

  /** The secret store new credentials go to. */
  get secretStore(): 'bcrypt' | 'vault' {
    return this.vault ? 'vault' : 'bcrypt';
  }

  /** Validates `env` once; throws {@link ConfigValidationError} naming every bad variable. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): AppConfig {
    // An empty value means unset, as in a copied .env.example.
    const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
    const result = envSchema.safeParse(present);
    if (!result.success) {
      const problems = result.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const value = env[name];
        const shown = value === undefined || isSensitive(name) ? '' : ` (got "${value}")`;
        return `${name} ${issue.message}${shown}`;
      });
      throw new ConfigValidationError(problems);
    }
    return new AppConfig(result.data);
  }
}

function isSensitive(name: string): boolean {
  return /TOKEN|SECRET|KEY(?!_PREFIX)|PASSWORD|DATABASE_URL|REDIS_URL/.test(name);
}
