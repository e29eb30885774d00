import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';

/** TypeORM's own `pg` pool; undefined until the data source is initialised. */
export function postgresPool(dataSource: DataSource): Pool | undefined {
  return (dataSource.driver as unknown as { master?: Pool }).master;
}

/**
 * Runs a named prepared statement on TypeORM's own `pg` pool: PostgreSQL parses and plans it once
 * per connection instead of on every call. For the few queries on the token endpoint's hot path;
 * everything else goes through TypeORM.
 */
export async function preparedQuery<T extends QueryResultRow>(
  dataSource: DataSource,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  const pool = postgresPool(dataSource);
  if (!pool) throw new Error('The database is not connected');
  const result = await pool.query<T>({ name, text, values });
  return result.rows;
}

/**
 * The `pg` connection under a TypeORM transaction's entity manager, for named prepared statements
 * inside the transaction (TypeORM's own `query` sends unnamed ones). TypeORM still owns the
 * connection: it commits, rolls back, hears its errors and releases it.
 */
export async function postgresConnection(manager: EntityManager): Promise<PoolClient> {
  if (!manager.queryRunner) throw new Error('Not inside a transaction');
  return (await manager.queryRunner.connect()) as PoolClient;
}
