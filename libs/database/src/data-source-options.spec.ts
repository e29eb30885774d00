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

  it('keeps TCP keepalive on PostgreSQL connections, and the embedded session its statements', () => {
    const pooled = AppConfig.fromEnv({ DATABASE_URL: 'postgres://app@db.example/agentidp' });
    expect(
      buildDataSourceOptions(pooled, 'postgres://app@db.example/agentidp').extra,
    ).toMatchObject({ keepAlive: true, idleTimeoutMillis: 30_000 });
    const embedded = buildDataSourceOptions(AppConfig.fromEnv({}), 'postgres://x@127.0.0.1:1/p');
    expect(embedded.extra).toMatchObject({ idleTimeoutMillis: 0, onConnect: expect.any(Function) });
  });
});
