/**
 * The audit writer's thread: hashes each batch into the chain and inserts it on a connection of its
 * own, so that neither the hashing nor the statements' serialisation and I/O take turns with
 * requests on the main thread. Relative imports and packages only: this file is loaded by path.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Client, type ClientConfig } from 'pg';
import { appendToChain, type PendingEvent } from './audit-writer';

export interface WriterData {
  connection: ClientConfig;
}

export interface WriteRequest {
  id: number;
  events: PendingEvent[];
}

export type WriteReply =
  { id: number; ok: true } | { id: number; ok: false; message: string; code?: string };

const { connection } = workerData as WriterData;
let client: Client | undefined;

async function connect(): Promise<Client> {
  if (client) return client;
  const fresh = new Client(connection);
  // An idle connection that breaks is dropped here; the next batch opens another.
  fresh.on('error', () => {
    if (client === fresh) client = undefined;
  });
  await fresh.connect();
  client = fresh;
  return fresh;
}

/** Drops the connection: whatever state it is in, it is not used again. */
function discard(db: Client): void {
  if (client === db) client = undefined;
  db.end().catch(() => undefined);
}

async function write(events: PendingEvent[]): Promise<void> {
  const db = await connect();
  try {
    await db.query('BEGIN');
    await appendToChain(db, events);
    await db.query('COMMIT');
  } catch (error) {
    try {
      await db.query('ROLLBACK');
    } catch {
      discard(db);
    }
    throw error;
  }
}

function reply(message: WriteReply): void {
  parentPort!.postMessage(message);
}

// One batch at a time, in the order they came.
let previous: Promise<void> = Promise.resolve();
parentPort!.on('message', ({ id, events }: WriteRequest) => {
  previous = previous.then(() =>
    write(events).then(
      () => reply({ id, ok: true }),
      (error: Error & { code?: unknown }) =>
        reply({
          id,
          ok: false,
          message: error.message,
          ...(typeof error.code === 'string' ? { code: error.code } : {}),
        }),
    ),
  );
});
