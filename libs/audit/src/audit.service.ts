import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { isDataRefusal, PeriodicFlush, type RequestContext } from '@agentidp/common';
import { DataSource } from 'typeorm';
import { chainContent, GENESIS_HASH, linkHash, type ChainedFields } from './audit-chain';
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
/**
 * The rows of one statement in one JSON parameter: each element is `[content, prevHash, hash]`
 * where content is the chain's canonical array (see `chainContent`), so the text hashed is the text
 * stored, and no column is serialised twice.
 */
const INSERT_BATCH_SQL = `
  INSERT INTO audit_events (id, occurred_at, type, outcome, actor_agent_id, target_type, target_id,
                            request_id, client_ip, details, prev_hash, hash)
  SELECT (r->>0)::bigint, (r->>1)::timestamptz, r->>2, r->>3, (r->>4)::uuid, r->>5, r->>6, r->>7,
         r->>8, r->9, e->>1, e->>2
    FROM jsonb_array_elements($1::jsonb) AS e, LATERAL (SELECT e->0 AS r) AS row`;

/**
 * A batch's rows go in statements of about this many characters of JSON: a busy server writes ten
 * batches a second, and one string per batch (over V8's 128 KiB large-object threshold) left 21 MB
 * of large-object space waiting for collection in one benchmark run, against 4 MB with statements
 * of this size.
 */
const STATEMENT_TEXT_LIMIT = 48 * 1024;

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
   * One transaction: the chain's tail under an advisory lock, then the rows, about a hundred to
   * a statement (see {@link STATEMENT_TEXT_LIMIT}).
   * Each event is serialised once, for both its hash and its row: at high token rates this runs
   * for every grant. The hashes are computed in slices with the event loop free in between, so a
   * large batch never holds requests up for more than a slice.
   */
  private async writeBatch(batch: Pending[]): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
      const last = await manager.query<{ id: string; hash: string }[]>(
        'SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1',
      );
      let prevHash = last[0]?.hash ?? GENESIS_HASH;
      const firstId = Number(last[0]?.id ?? '0') + 1;
      if (!Number.isSafeInteger(firstId + batch.length)) {
        throw new Error('audit_events ids have outgrown JavaScript integers');
      }
      let rows: string[] = [];
      let length = 0;
      for (let index = 0; index < batch.length; index += 1) {
        if (index > 0 && index % HASH_SLICE === 0) await yieldToEventLoop();
        const event = batch[index];
        event.id = String(firstId + index);
        const content = chainContent(event);
        const hash = linkHash(prevHash, content);
        const row = `[${content},"${prevHash}","${hash}"]`;
        rows.push(row);
        length += row.length + 1;
        prevHash = hash;
        if (length >= STATEMENT_TEXT_LIMIT) {
          await manager.query(INSERT_BATCH_SQL, [`[${rows.join(',')}]`]);
          rows = [];
          length = 0;
        }
      }
      if (rows.length) await manager.query(INSERT_BATCH_SQL, [`[${rows.join(',')}]`]);
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
