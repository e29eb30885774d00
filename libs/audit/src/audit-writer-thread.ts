import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ClientConfig } from 'pg';
import type { PendingEvent } from './audit-writer';
import type { WriteReply, WriteRequest, WriterData } from './audit-writer.worker';

/** What a `pg` pool's options may carry over to the writer's own connection: plain values only. */
const CONNECTION_KEYS = [
  'connectionString',
  'host',
  'port',
  'user',
  'password',
  'database',
  'ssl',
  'connectionTimeoutMillis',
  'keepAlive',
  'keepAliveInitialDelayMillis',
  'statement_timeout',
] as const;

/** The writer's connection: the pool's settings, under its own application name. */
export function writerConnection(poolOptions: object): ClientConfig {
  const options = poolOptions as Record<string, unknown>;
  const connection: Record<string, unknown> = {};
  for (const key of CONNECTION_KEYS) {
    if (options[key] !== undefined) connection[key] = options[key];
  }
  connection.application_name = 'agentidp-audit';
  return connection;
}

/**
 * Loads a compiled worker beside this file; from the TypeScript sources (tests, `ts` tooling),
 * transpiles it on load with the `typescript` package instead.
 */
const FROM_SOURCES = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const ts = require('typescript');
require.extensions['.ts'] = (module, file) => {
  const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: file,
  });
  module._compile(outputText, file);
};
require(workerData.entry);
`;

/**
 * The thread holds a batch or two at a time (at most 500 events), so it gets a small heap of its
 * own (each isolate has one): with V8's defaults it grew to some 30 MB more RSS under the
 * benchmark. Should it ever need more, it ends, its batch stays queued, and a new one starts.
 */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 24 };

function startWorker(data: WriterData): Worker {
  const compiled = join(__dirname, 'audit-writer.worker.js');
  if (existsSync(compiled)) {
    return new Worker(compiled, { workerData: data, resourceLimits: RESOURCE_LIMITS });
  }
  // The TypeScript compiler it loads takes more heap than the writer itself.
  return new Worker(FROM_SOURCES, {
    eval: true,
    workerData: { ...data, entry: join(__dirname, 'audit-writer.worker.ts') },
  });
}

/**
 * The main thread's side of the audit writer's thread: {@link write} hands a batch over and
 * settles once it is committed or refused. The thread is started on the first write, and again
 * after it ends; it keeps the process alive only while a write is outstanding.
 */
export class AuditWriterThread {
  private worker?: Worker;
  private nextId = 1;
  private readonly outstanding = new Map<
    number,
    { worker: Worker; resolve: () => void; reject: (error: Error) => void }
  >();

  constructor(private readonly connection: ClientConfig) {}

  write(events: PendingEvent[]): Promise<void> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => {
      this.outstanding.set(id, { worker, resolve, reject });
    });
    worker.ref();
    try {
      worker.postMessage({ id, events } satisfies WriteRequest);
    } catch (error) {
      this.settled(worker, id);
      throw error;
    }
    return done;
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    const worker = startWorker({ connection: this.connection });
    this.worker = worker;
    worker.on('message', (reply: WriteReply) => {
      const waiting = this.outstanding.get(reply.id);
      if (!waiting) return;
      this.settled(worker, reply.id);
      if (reply.ok) waiting.resolve();
      else waiting.reject(Object.assign(new Error(reply.message), { code: reply.code }));
    });
    worker.on('error', (error) => this.ended(worker, error));
    worker.on('exit', (code) =>
      this.ended(worker, new Error(`The audit writer thread exited (code ${code})`)),
    );
    return worker;
  }

  /** Forgets a write; with none outstanding, the thread no longer keeps the process alive. */
  private settled(worker: Worker, id: number): void {
    this.outstanding.delete(id);
    if (this.outstanding.size === 0) worker.unref();
  }

  /** Its writes still outstanding fail (their events stay queued); the next write starts anew. */
  private ended(worker: Worker, error: Error): void {
    if (this.worker === worker) this.worker = undefined;
    for (const [id, waiting] of this.outstanding) {
      if (waiting.worker !== worker) continue;
      this.outstanding.delete(id);
      waiting.reject(error);
    }
  }
}
