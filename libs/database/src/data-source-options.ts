import type { AppConfig } from '@agentidp/config';
import type { DataSourceOptions } from 'typeorm';

type PostgresConnectionOptions = Extract<DataSourceOptions, { type: 'postgres' }>;
import { migrations } from '../../../migrations';
import { entities } from './entities';

/**
 * The one TypeORM options builder, shared by the application and the migration CLI.
 * `url` is the resolved connection string: DATABASE_URL, or the embedded server's loopback address.
 */
export function buildDataSourceOptions(config: AppConfig, url: string): PostgresConnectionOptions {
  const embedded = config.embeddedDatabase;
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsTableName: 'migrations',
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    synchronize: false,
    // TypeORM's logger prints failed queries with their parameters, which can hold a bcrypt hash or
    // an encrypted key: errors are logged by the exception filter instead, without parameters.
    logging: false,
    ssl: config.database.ssl ? { rejectUnauthorized: true } : false,
    // PGlite is one session: a second connection would interleave transactions.
    poolSize: embedded ? 1 : config.database.poolSize,
    connectTimeoutMS: config.database.connectTimeoutMs,
    extra: {
      max: embedded ? 1 : config.database.poolSize,
      connectionTimeoutMillis: config.database.connectTimeoutMs,
      // PGlite keeps one session across socket connections: the pool's one connection stays open,
      // and one opened after a broken one drops the named statements the session still holds
      // (re-preparing them would fail with 42P05).
      idleTimeoutMillis: embedded ? 0 : 30_000,
      ...(embedded
        ? { onConnect: forgetPreparedStatements }
        : // TCP keepalive: a connection to a PostgreSQL that vanished (a partition, a failover
          // without a reset) fails instead of leaving its query, and a transaction, waiting forever.
          { keepAlive: true, keepAliveInitialDelayMillis: 10_000 }),
      statement_timeout: config.database.statementTimeoutMs || undefined,
      application_name: 'agentidp',
    },
  };
}

/** A new connection to the embedded database starts without the statements an earlier one named. */
async function forgetPreparedStatements(client: { query(sql: string): Promise<unknown> }) {
  await client.query('DEALLOCATE ALL');
}
