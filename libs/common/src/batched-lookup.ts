import DataLoader from 'dataloader';

/** The most keys one batch carries; more waiting go in further batches at once. */
const MAX_BATCH = 64;

/**
 * Lookups batched per turn of the event loop: keys asked for while the loop handles one round of
 * I/O go to `load` together once it has (`setImmediate`). A lone lookup waits for nothing; under
 * load, the requests that arrived together share one statement (one pool checkout, one round trip,
 * one execution). Nothing is cached: each batch reads the rows as they are when it is sent, after
 * every request in it arrived. `load` answers each key, in order; a failure fails its batch only.
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

/**
 * Rows of a statement over `unnest(…) WITH ORDINALITY AS k (…, i)` that selects `k.i`, placed by
 * that number (from 1) among `count` keys; undefined where a key found no row.
 */
export function byOrdinality<R extends { i: string }>(rows: R[], count: number): (R | undefined)[] {
  const found = new Array<R | undefined>(count).fill(undefined);
  for (const row of rows) found[Number(row.i) - 1] = row;
  return found;
}
