import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  isDataRefusal,
  postgresConnection,
  postgresPool,
  PeriodicFlush,
  type RequestContext,
} from '@agentidp/common';
import { AppConfig } from '@agentidp/config';
import { DataSource } from 'typeorm';
import { AuditOutcome } from './audit-event.entity';
import type { AuditEventType } from './audit-event-type.enum';
import { appendToChain, type PendingEvent } from './audit-writer';
import { AuditWriterThread, writerConnection } from './audit-writer-thread';

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

const FLUSH_INTERVAL_MS = 100;
const MAX_BATCH = 500;
const MAX_QUEUE = 100_000;

/**
 * Appends audit events without making callers wait: events queue in memory and are written in
 * batches (one transaction, one chain extension per batch), so high token rates do not turn audit
 * writes into the bottleneck. On a PostgreSQL server the batches are hashed and inserted by a
 * thread of their own on its own connection ({@link AuditWriterThread}): at the token endpoint's
 * rates that work would otherwise take about a tenth of the main thread, in bursts that hold
 * requests up. The embedded database has one connection, so there the main thread writes them,
 * yielding between slices. A clean shutdown flushes everything before the pool closes.
 */
@Injectable()
export class AuditService extends PeriodicFlush implements OnApplicationShutdown {
  private readonly logger = new Logger(AuditService.name);
  private queue: PendingEvent[] = [];
  private flushing?: Promise<void>;
  private dropped = 0;
  private writerThread?: AuditWriterThread;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {
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

  private async writeOneByOne(batch: PendingEvent[]): Promise<void> {
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

  /** After the last flush (the root module's before-shutdown hooks run it). */
  async onApplicationShutdown(): Promise<void> {
    await this.writerThread?.stop();
  }

  /** One transaction, one extension of the chain (see {@link appendToChain}). */
  private async writeBatch(batch: PendingEvent[]): Promise<void> {
    if (!this.config.embeddedDatabase) {
      if (!this.writerThread) {
        const pool = postgresPool(this.dataSource);
        if (!pool) throw new Error('The database is not connected');
        this.writerThread = new AuditWriterThread(writerConnection(pool.options));
      }
      await this.writerThread.write(batch);
      return;
    }
    await this.dataSource.transaction(async (manager) => {
      await appendToChain(await postgresConnection(manager), batch, yieldToEventLoop);
    });
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Text PostgreSQL accepts: no NUL, no unpaired surrogate (attackers choose client ids). */
function storable(value: string): string {
  if (value.isWellFormed() && !value.includes('\u0000')) return value;
  return value.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

/**
 * Details made storable, and plain data (they are copied to the writer thread): functions and
 * symbols are left out, as JSON leaves them. The common case (flat, already storable) is returned
 * as it is.
 */
function sanitize(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
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
    if (typeof item === 'string' ? storable(item) !== item : !isPlainScalar(item)) return false;
  }
  return true;
}

function isPlainScalar(value: unknown): boolean {
  return (
    value === null ||
    (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')
  );
}
