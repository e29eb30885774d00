import { AppConfig, ConfigValidationError } from './app-config';

describe(AppConfig.name, () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = AppConfig.fromEnv({});
    expect(config.http.port).toBe(3000);
    expect(config.http.publicUrl).toBe('http://localhost:3000');
    expect(config.embeddedDatabase).toBe(true);
    expect(config.database.migrationsRun).toBe(true);
    expect(config.secrets.bcryptCost).toBe(12);
    expect(config.token.ttlSeconds).toBe(3600);
    expect(config.secretStore).toBe('bcrypt');
    expect(config.vault).toBeUndefined();
    expect(config.runtime.heapGrowthPercent).toBe(100);
  });

  it('treats empty values as unset', () => {
    const config = AppConfig.fromEnv({ PORT: '', DB_SSL: '', LOG_LEVEL: '', VAULT_ADDR: '' });
    expect(config.http.port).toBe(3000);
    expect(config.secretStore).toBe('bcrypt');
  });

  it('names every bad variable in one message', () => {
    let error: unknown;
    try {
      AppConfig.fromEnv({ PORT: 'abc', DATABASE_URL: 'nonsense', DB_MIGRATIONS_RUN: 'maybe' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const message = (error as Error).message;
    expect(message).toContain('PORT');
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('DB_MIGRATIONS_RUN');
  });

  it('requires VAULT_TOKEN with VAULT_ADDR and never echoes secret values', () => {
    expect(() => AppConfig.fromEnv({ VAULT_ADDR: 'http://127.0.0.1:8200' })).toThrow(
      /VAULT_TOKEN is required/,
    );
    expect(() =>
      AppConfig.fromEnv({ SIGNING_KEYS_ENCRYPTION_KEY: 'too-short-secret-value' }),
    ).toThrow(/SIGNING_KEYS_ENCRYPTION_KEY must be 32 random bytes/);
    try {
      AppConfig.fromEnv({ SIGNING_KEYS_ENCRYPTION_KEY: 'too-short-secret-value' });
    } catch (error) {
      expect((error as Error).message).not.toContain('too-short-secret-value');
    }
  });

  it('prefers VAULT_KV_MOUNT over VAULT_MOUNT and defaults to secret', () => {
    const base = { VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_TOKEN: 't' };
    expect(AppConfig.fromEnv(base).vault?.mount).toBe('secret');
    expect(AppConfig.fromEnv({ ...base, VAULT_MOUNT: 'kv' }).vault?.mount).toBe('kv');
    expect(
      AppConfig.fromEnv({ ...base, VAULT_MOUNT: 'kv', VAULT_KV_MOUNT: 'agentidp' }).vault?.mount,
    ).toBe('agentidp');
    expect(AppConfig.fromEnv(base).secretStore).toBe('vault');
  });
});
