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
    logging: ['error'],
    ssl: config.database.ssl ? { rejectUnauthorized: true } : false,
    // PGlite is one session: a second connection would interleave transactions.
    poolSize: embedded ? 1 : config.database.poolSize,
    connectTimeoutMS: config.database.connectTimeoutMs,
    extra: {
      max: embedded ? 1 : config.database.poolSize,
      connectionTimeoutMillis: config.database.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      statement_timeout: config.database.statementTimeoutMs || undefined,
      application_name: 'agentidp',
    },
  };
}
