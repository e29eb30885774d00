import type { Pool, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';

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
  const pool = (dataSource.driver as unknown as { master: Pool }).master;
  const result = await pool.query<T>({ name, text, values });
  return result.rows;
}
