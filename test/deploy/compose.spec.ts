/**
 * docker-compose.yml: `docker compose config -q` (the Compose specification's own validation) where
 * the docker CLI has the compose plugin, and on every machine the wiring the quickstart relies on.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { envSchema } from '../../libs/config/src/env.schema';

const ROOT = resolve(__dirname, '../..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const MIGRATE_COMMAND = [
  'node',
  'node_modules/typeorm/cli.js',
  'migration:run',
  '-d',
  'dist/libs/database/src/data-source.js',
];

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  cap_add?: string[];
  ports?: string[];
  volumes?: string[];
}

const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;

/** `${NAME:-default}` -> default, `${NAME}` -> '': the values with nothing set in the environment. */
function interpolateDefaults(value: string | number | boolean | null): string {
  return String(value ?? '').replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g,
    (_match, _name, fallback?: string) => fallback ?? '',
  );
}

function environment(service: Service): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([key, value]) => [
      key,
      interpolateDefaults(value),
    ]),
  );
}

const composeAvailable = (() => {
  try {
    execFileSync('docker', ['compose', 'version'], { stdio: 'ignore', timeout: 15_000 });
    return true;
  } catch {
    return false;
  }
})();

describe('docker-compose.yml', () => {
  if (!composeAvailable) {
    console.info(
      'docker compose (the docker CLI compose plugin) is not available: skipping `docker compose config -q`',
    );
  }
  (composeAvailable ? it : it.skip)('passes `docker compose config -q`', () => {
    try {
      execFileSync('docker', ['compose', '-f', COMPOSE_FILE, 'config', '-q'], {
        cwd: ROOT,
        stdio: 'pipe',
        timeout: 30_000,
      });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
      throw new Error(`docker compose config -q failed:\n${stderr || String(error)}`, {
        cause: error,
      });
    }
  });

  it('defines the quickstart services', () => {
    expect(Object.keys(services).sort()).toEqual([
      'agentidp',
      'migrate',
      'postgres',
      'vault',
      'vault-init',
    ]);
  });

  it('runs PostgreSQL 15 with a pg_isready healthcheck', () => {
    expect(services.postgres.image).toBe('postgres:15');
    expect(String(services.postgres.healthcheck?.test)).toContain('pg_isready');
  });

  it('runs Vault 1.15 in dev mode with the runbook root token, IPC_LOCK and a healthcheck', () => {
    const vault = services.vault;
    expect(vault.image).toBe('hashicorp/vault:1.15');
    expect(vault.command).toEqual(['server', '-dev']);
    expect(environment(vault)).toMatchObject({
      VAULT_DEV_ROOT_TOKEN_ID: 'dev-root-token',
      VAULT_ADDR: 'http://127.0.0.1:8200',
    });
    expect(vault.cap_add).toContain('IPC_LOCK');
    expect(vault.healthcheck?.test).toEqual(['CMD', 'vault', 'status']);
  });

  it('installs the least-privilege policy from deploy/vault once Vault is healthy', () => {
    const init = services['vault-init'];
    expect(init.depends_on?.vault).toEqual({ condition: 'service_healthy' });
    const mount = (init.volumes ?? []).find((volume) => volume.includes('agentidp-policy.hcl'));
    expect(mount).toBeDefined();
    const [hostPath, containerPath] = String(mount).split(':');
    expect(existsSync(join(ROOT, hostPath))).toBe(true);
    expect(String(init.command)).toContain(`vault policy write agentidp ${containerPath}`);

    const policy = readFileSync(join(ROOT, hostPath), 'utf8');
    expect(policy).toMatch(
      /path "secret\/data\/agentidp\/\*" \{\s*capabilities = \["create", "read", "update", "delete"\]\s*\}/,
    );
    expect(policy).toMatch(
      /path "secret\/metadata\/agentidp\/\*" \{\s*capabilities = \["delete"\]\s*\}/,
    );
  });

  it('migrates with the TypeORM CLI from the app image, once PostgreSQL is healthy', () => {
    const migrate = services.migrate;
    expect(migrate.command).toEqual(MIGRATE_COMMAND);
    expect(migrate.image).toBe(services.agentidp.image);
    expect(migrate.build).toEqual(services.agentidp.build);
    expect(migrate.depends_on?.postgres).toEqual({ condition: 'service_healthy' });
    expect(environment(migrate).DATABASE_URL).toBe(environment(services.agentidp).DATABASE_URL);
  });

  it('starts AgentIdP after its dependencies, with migrations left to `migrate`', () => {
    const app = services.agentidp;
    expect(app.build).toBeDefined();
    expect(app.depends_on).toMatchObject({
      postgres: { condition: 'service_healthy' },
      vault: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    });
    expect(app.ports).toContain('3000:3000');
    expect(environment(app)).toMatchObject({
      DB_MIGRATIONS_RUN: 'false',
      VAULT_ADDR: 'http://vault:8200',
      VAULT_TOKEN: 'dev-root-token',
      VAULT_KV_MOUNT: 'secret',
      PUBLIC_URL: 'http://localhost:3000',
    });
    expect(environment(app).DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
  });

  it('gives AgentIdP a configuration its schema accepts, with a 32-byte dev encryption key', () => {
    const env = environment(services.agentidp);
    const known = new Set(Object.keys(envSchema.shape));
    expect(Object.keys(env).filter((key) => !known.has(key))).toEqual([]);
    expect(Buffer.from(env.SIGNING_KEYS_ENCRYPTION_KEY, 'base64').toString()).toMatch(/^DEV-ONLY/);
    const result = envSchema.safeParse(env);
    expect(result.success ? [] : result.error.issues).toEqual([]);
  });
});
