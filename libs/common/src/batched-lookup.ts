import DataLoader from 'dataloader';
import type { QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';
import { preparedQuery } from './prepared-query';

/** The most keys one batch carries; more waiting go in further batches at once. */
const MAX_BATCH = 64;

/**
 * Lookups batched per turn of the event loop: keys asked for while the loop handles one round of
 * I/O go to `load` together once it has (`setImmediate`). A lookup waits at most for the rest of
 * that round; under load, the requests that arrived together share one statement (one pool
 * checkout, one round trip, one execution). Nothing is cached: each batch reads the rows as they
 * are when it is sent, after every request in it arrived. `load` answers each key, in order; a
 * failure fails its batch only.
 */
export function batchedLookup<K, V>(
  load: (keys: readonly K[]) => Promise<V[]>,
): (key: K) => Promise<V> {
  const loader = new DataLoader<K, V>(load, {
    cache: false,
    maxBatchSize: MAX_BATCH,
    batchScheduleFn: (send) => setImmediate(send),
  });
  return (key) => loader.load(key);
}

/** A statement over a batch of keys, made by {@link keyedStatement}. */
export type KeyedStatement = (keys: readonly (readonly unknown[])[]) => {
  name: string;
  text: string;
  values: unknown[];
};

/**
 * Named statements over a batch of keys (each key a tuple of `types`). The keys go in a `VALUES`
 * list whose last column numbers them from 1, one statement per power of two up to 64 keys (a
 * batch is padded with its last key), so PostgreSQL plans each once and keeps that generic plan.
 * Passed as arrays instead, their number is unknown to a generic plan, which PostgreSQL then judged
 * dearer than a plan for the batch at hand and planned every execution anew (three times the
 * lookup's cost on PGlite). `sql` gets the list, for `FROM (…) AS k (…, i)`.
 */
export function keyedStatement(
  name: string,
  types: readonly string[],
  sql: (keys: string) => string,
): KeyedStatement {
  const texts = new Map<number, string>();
  return (keys) => {
    let size = 1;
    while (size < keys.length) size *= 2;
    let text = texts.get(size);
    if (text === undefined) {
      text = sql(valuesList(types, size));
      texts.set(size, text);
    }
    const values: unknown[] = [];
    for (let index = 0; index < size; index += 1) {
      values.push(...keys[Math.min(index, keys.length - 1)]);
    }
    return { name: `${name}_${size}`, text, values };
  };
}

function valuesList(types: readonly string[], rows: number): string {
  const tuples: string[] = [];
  for (let row = 0; row < rows; row += 1) {
    const params = types.map((type, column) => `$${row * types.length + column + 1}::${type}`);
    tuples.push(`(${[...params, row + 1].join(', ')})`);
  }
  return `VALUES ${tuples.join(', ')}`;
}

/**
 * {@link batchedLookup} over `statement`: a key's row (by the ordinality column `i`), or undefined.
 * `dataSource` is read when a batch is sent (services pass `() => this.dataSource`).
 */
export function batchedRows<R extends QueryResultRow>(
  statement: KeyedStatement,
  dataSource: () => DataSource,
): (key: readonly unknown[]) => Promise<R | undefined> {
  return batchedLookup(async (keys: readonly (readonly unknown[])[]) => {
    const { name, text, values } = statement(keys);
    const rows = await preparedQuery<R & { i: number }>(dataSource(), name, text, values);
    return byOrdinality(rows, keys.length);
  });
}

/**
 * Rows placed by their ordinality column `i` (from 1) among `count` keys; undefined where a key
 * found no row. Rows of padding keys (beyond `count`) are left out.
 */
export function byOrdinality<R extends { i: number | string }>(
  rows: R[],
  count: number,
): (R | undefined)[] {
  const found = new Array<R | undefined>(count).fill(undefined);
  for (const row of rows) {
    const index = Number(row.i) - 1;
    if (index >= 0 && index < count) found[index] = row;
  }
  return found;
}
