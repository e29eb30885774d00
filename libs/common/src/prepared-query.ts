import type { Pool, PoolClient, QueryResultRow } from 'pg';
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

/**
 * Runs `work` in one transaction on a connection of TypeORM's own pool, handing it the `pg` client
 * so that named prepared statements can run inside the transaction. A connection that breaks
 * meanwhile (its error fails the statement in flight) or cannot even roll back is destroyed rather
 * than returned to the pool.
 */
export async function inPostgresTransaction<T>(
  dataSource: DataSource,
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const pool = postgresPool(dataSource);
  if (!pool) throw new Error('The database is not connected');
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client's connection error is emitted on it: unheard, it would crash the process.
  const onError = (error: Error) => {
    broken = error;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (!broken) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
    }
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
