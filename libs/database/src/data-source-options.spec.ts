import { AppConfig } from '@agentidp/config';
import { buildDataSourceOptions } from './data-source-options';

describe(buildDataSourceOptions.name, () => {
  it('keeps TypeORM from logging queries, whose parameters can hold hashes and keys', () => {
    const config = AppConfig.fromEnv({ DATABASE_URL: 'postgres://app@db.example/agentidp' });
    expect(buildDataSourceOptions(config, 'postgres://app@db.example/agentidp').logging).toBe(
      false,
    );
  });

  it('uses one connection on the embedded database and DB_POOL_SIZE otherwise', () => {
    const embedded = AppConfig.fromEnv({});
    const pooled = AppConfig.fromEnv({
      DATABASE_URL: 'postgres://app@db.example/agentidp',
      DB_POOL_SIZE: '7',
    });
    expect(buildDataSourceOptions(embedded, 'postgres://x@127.0.0.1:1/postgres').poolSize).toBe(1);
    expect(buildDataSourceOptions(pooled, 'postgres://app@db.example/agentidp').poolSize).toBe(7);
  });
});
