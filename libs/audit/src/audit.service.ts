import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  isDataRefusal,
  postgresConnection,
  PeriodicFlush,
  type RequestContext,
} from '@agentidp/common';
import { DataSource } from 'typeorm';
import {
  canonicalJson,
  chainContent,
  GENESIS_HASH,
  linkHash,
  type ChainedFields,
} from './audit-chain';
import { AuditOutcome } from './audit-event.entity';
import type { AuditEventType } from './audit-event-type.enum';

export interface AuditRecord {
  type: AuditEventType;
  outcome: AuditOutcome;
  actorAgentId?: string | null;
  targetType?: 'agent' | 'credential' | 'token' | 'client' | 'signing_key' | null;
  targetId?: string | null;
  /** Never a secret: ids, reasons, scopes, counts. */
  details?: Record<string, unknown>;
  /** The request the event happened in (its id, client address and, unless given above, actor). */
  context?: RequestContext;
}

/** A queued event: the chained fields, its id assigned when a batch is written. */
interface Pending extends ChainedFields {
  type: AuditEventType;
  outcome: AuditOutcome;
  actorAgentId: string | null;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown>;
  occurredAt: Date;
  requestId: string | null;
  clientIp: string | null;
}

const FLUSH_INTERVAL_MS = 100;
const MAX_BATCH = 500;
const MAX_QUEUE = 100_000;

const COLUMNS = [
  'id',
  'occurred_at',
  'type',
  'outcome',
  'actor_agent_id',
  'target_type',
  'target_id',
  'request_id',
  'client_ip',
  'details',
  'prev_hash',
  'hash',
] as const;

/**
 * The most rows one statement inserts. Rows go as plain parameters of a multi-row `VALUES` (each
 * parsed by its column's input function, as COPY would; PGlite's wire protocol has no COPY), which
 * cost PostgreSQL a quarter less per row than unpacking one JSON document in a loopback test, and
 * 10-15 % less execution time under the token benchmark's load. A statement per power of two up to
 * this size is prepared once per connection.
 */
const MAX_ROWS_PER_STATEMENT = 128;

/** `INSERT … VALUES` for `rows` rows, named so that PostgreSQL parses and plans it once. */
function insertStatement(rows: number): { name: string; text: string } {
  const tuples: string[] = [];
  for (let row = 0; row < rows; row += 1) {
    const base = row * COLUMNS.length;
    tuples.push(`(${COLUMNS.map((_, column) => `$${base + column + 1}`).join(',')})`);
  }
  return {
    name: `agentidp_audit_insert_${rows}`,
    text: `INSERT INTO audit_events (${COLUMNS.join(', ')}) VALUES ${tuples.join(',')}`,
  };
}

const INSERT_STATEMENTS = new Map<number, { name: string; text: string }>();
for (let rows = 1; rows <= MAX_ROWS_PER_STATEMENT; rows *= 2) {
  INSERT_STATEMENTS.set(rows, insertStatement(rows));
}

/** Rows for the next statement: the largest prepared size that fits what is left. */
function statementRows(left: number): number {
  let rows = MAX_ROWS_PER_STATEMENT;
  while (rows > left) rows /= 2;
  return rows;
}

/** Events hashed between two yields to the event loop while a batch is built. */
const HASH_SLICE = 64;

/** Serialises chain appends across replicas. */
const AUDIT_LOCK_KEY = '7017851454063191409';

/**
 * Appends audit events without making callers wait: events queue in memory and are written in
 * batches (one transaction, one chain extension per batch), so high token rates do not turn audit
 * writes into the bottleneck. A clean shutdown flushes everything before the pool closes.
 */
@Injectable()
export class AuditService extends PeriodicFlush {
  private readonly logger = new Logger(AuditService.name);
  private queue: Pending[] = [];
  private flushing?: Promise<void>;
  private dropped = 0;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super(FLUSH_INTERVAL_MS);
  }

  record(event: AuditRecord): void {
    if (this.queue.length >= MAX_QUEUE) {
      this.dropped += 1;
      if (this.dropped === 1 || this.dropped % 1000 === 0) {
        this.logger.error(
          `Audit queue full: ${this.dropped} events dropped (database unavailable?)`,
        );
      }
      return;
    }
    const { context } = event;
    const targetId = event.targetId ?? null;
    this.queue.push({
      id: '',
      type: event.type,
      outcome: event.outcome,
      actorAgentId: event.actorAgentId ?? context?.actorAgentId ?? null,
      targetType: event.targetType ?? null,
      // Cut first, then made storable: a cut through a surrogate pair becomes U+FFFD, not a lone half.
      targetId: targetId === null ? null : storable(targetId.slice(0, 64)),
      details: event.details ? (sanitize(event.details) as Record<string, unknown>) : {},
      occurredAt: new Date(),
      requestId: context?.requestId ?? null,
      clientIp: context?.clientIp ?? null,
    });
    // A full batch goes now; anything less waits for the timer, so batches stay large.
    if (this.queue.length === MAX_BATCH) void this.flush();
  }

  /**
   * Writes every event recorded before the call (not those recorded meanwhile: they wait for the
   * next tick, or a writer chasing a busy queue would commit a handful of events at a time).
   * Safe to call concurrently.
   */
  override async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    this.flushing = this.writeQueued(this.queue.length).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async writeQueued(count: number): Promise<void> {
    let remaining = count;
    while (remaining > 0 && this.queue.length > 0) {
      const batch = this.queue.slice(0, Math.min(remaining, MAX_BATCH));
      remaining -= batch.length;
      try {
        await this.writeBatch(batch);
      } catch (error) {
        if (!isDataRefusal(error)) {
          this.logger.warn(
            `Audit write failed; ${this.queue.length} events kept for retry: ${(error as Error).message}`,
          );
          return;
        }
        // The database refused the data of some event: find it, keep the rest.
        try {
          await this.writeOneByOne(batch);
        } catch {
          return;
        }
      }
      this.queue.splice(0, batch.length);
    }
  }

  private async writeOneByOne(batch: Pending[]): Promise<void> {
    for (const event of batch) {
      try {
        await this.writeBatch([event]);
      } catch (error) {
        if (!isDataRefusal(error)) {
          this.queue.splice(0, batch.indexOf(event));
          this.logger.warn(
            `Audit write failed; ${this.queue.length} events kept for retry: ${(error as Error).message}`,
          );
          throw error;
        }
        this.logger.error(
          `Audit event ${event.type} refused by the database and dropped: ${(error as Error).message}`,
        );
      }
    }
  }

  /**
   * One transaction: the chain's tail under an advisory lock, then the rows, up to
   * {@link MAX_ROWS_PER_STATEMENT} to a statement. Each event's details are serialised once, for
   * both its hash and its row: at high token rates this runs for every grant. The hashes are
   * computed in slices with the event loop free in between, so a large batch never holds requests
   * up for more than a slice.
   */
  private async writeBatch(batch: Pending[]): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
      const last = await manager.query<{ id: string; hash: string }[]>(
        'SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1',
      );
      let prevHash = last[0]?.hash ?? GENESIS_HASH;
      const firstId = Number(last[0]?.id ?? '0') + 1;
      // The inserts are named statements, sent on the transaction's own connection.
      const client = await postgresConnection(manager);
      if (!Number.isSafeInteger(firstId + batch.length)) {
        throw new Error('audit_events ids have outgrown JavaScript integers');
      }
      let values: (string | null)[] = [];
      let rows = statementRows(batch.length);
      for (let index = 0; index < batch.length; index += 1) {
        if (index > 0 && index % HASH_SLICE === 0) await yieldToEventLoop();
        const event = batch[index];
        event.id = String(firstId + index);
        const details = canonicalJson(event.details);
        const hash = linkHash(prevHash, chainContent(event, details));
        values.push(
          event.id,
          event.occurredAt.toISOString(),
          event.type,
          event.outcome,
          event.actorAgentId,
          event.targetType,
          event.targetId,
          event.requestId,
          event.clientIp,
          details,
          prevHash,
          hash,
        );
        prevHash = hash;
        if (values.length === rows * COLUMNS.length) {
          await client.query({ ...INSERT_STATEMENTS.get(rows)!, values });
          values = [];
          rows = statementRows(Math.max(1, batch.length - index - 1));
        }
      }
    });
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Text PostgreSQL accepts: no NUL, no unpaired surrogate (attackers choose client ids). */
function storable(value: string): string {
  if (value.isWellFormed() && !value.includes('\u0000')) return value;
  return value.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

/** Details made storable; the common case (flat, already storable) is returned as it is. */
function sanitize(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.map(sanitize);
  if (value && typeof value === 'object') {
    if (isFlatAndStorable(value as Record<string, unknown>)) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [storable(key), sanitize(item)]),
    );
  }
  return value;
}

function isFlatAndStorable(object: Record<string, unknown>): boolean {
  if (Object.getPrototypeOf(object) !== Object.prototype) return false;
  for (const key of Object.keys(object)) {
    const item = object[key];
    if (storable(key) !== key) return false;
    if (
      typeof item === 'string' ? storable(item) !== item : item !== null && typeof item === 'object'
    )
      return false;
  }
  return true;
}
