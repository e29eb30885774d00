import type { Pool, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';

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
