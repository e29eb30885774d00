import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { isDatabaseUnavailable, RequestContext } from '@agentidp/common';
import { DataSource } from 'typeorm';
import { chainHash, GENESIS_HASH } from './audit-chain';
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
}

interface Pending extends AuditRecord {
  occurredAt: Date;
  requestId: string | null;
  clientIp: string | null;
}

const FLUSH_INTERVAL_MS = 100;
const MAX_BATCH = 500;
const MAX_QUEUE = 100_000;
const INSERT_BATCH_SQL = `
  INSERT INTO audit_events (id, occurred_at, type, outcome, actor_agent_id, target_type, target_id,
                            request_id, client_ip, details, prev_hash, hash)
  SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::varchar[], $4::varchar[], $5::uuid[],
                       $6::varchar[], $7::varchar[], $8::varchar[], $9::varchar[], $10::jsonb[],
                       $11::char(64)[], $12::char(64)[])`;

/** Serialises chain appends across replicas. */
const AUDIT_LOCK_KEY = '7017851454063191409';

/**
 * Appends audit events without making callers wait: events queue in memory and are written in
 * batches (one transaction, one chain extension per batch), so high token rates do not turn audit
 * writes into the bottleneck. A clean shutdown flushes everything before the pool closes.
 */
@Injectable()
export class AuditService implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger(AuditService.name);
  private queue: Pending[] = [];
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private dropped = 0;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * The last flush, while the database is still open. The HTTP server has drained by now (the
   * root module closes it in its own, earlier, before-shutdown hook), so no request adds events.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
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
    const context = RequestContext.current();
    this.queue.push({
      ...event,
      targetId:
        event.targetId === undefined || event.targetId === null
          ? null
          : storable(event.targetId).slice(0, 64),
      details: event.details ? (sanitize(event.details) as Record<string, unknown>) : {},
      occurredAt: new Date(),
      requestId: context?.requestId ?? null,
      clientIp: context?.clientIp ?? null,
    });
    if (this.queue.length >= MAX_BATCH) void this.flush();
  }

  /** Writes everything queued so far. Safe to call concurrently; resolves when the queue is empty. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.queue.length === 0) return;
    this.flushing = this.writeAll().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async writeAll(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, MAX_BATCH);
      try {
        await this.writeBatch(batch);
        this.queue.splice(0, batch.length);
      } catch (error) {
        this.logger.warn(
          `Audit write failed; ${this.queue.length} events kept for retry: ${(error as Error).message}`,
        );
        return;
      }
    }
  }

  private async writeOneByOne(batch: Pending[]): Promise<void> {
    for (const event of batch) {
      try {
        await this.writeBatch([event]);
      } catch (error) {
        if (isDatabaseUnavailable(error)) throw error;
        this.logger.error(
          `Audit event ${event.type} refused by the database and dropped: ${(error as Error).message}`,
        );
      }
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK_KEY]);
      const last = await manager.query<{ id: string; hash: string }[]>(
        'SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1',
      );
      let prevHash = last[0]?.hash ?? GENESIS_HASH;
      let nextId = BigInt(last[0]?.id ?? '0');
      const rows = batch.map((event) => {
        nextId += 1n;
        const row = {
          id: nextId.toString(),
          occurredAt: event.occurredAt,
          type: event.type,
          outcome: event.outcome,
          actorAgentId: event.actorAgentId ?? null,
          targetType: event.targetType ?? null,
          targetId: event.targetId ?? null,
          requestId: event.requestId,
          clientIp: event.clientIp,
          details: event.details ?? {},
        };
        const hash = chainHash(prevHash, row);
        const entity = { ...row, prevHash, hash };
        prevHash = hash;
        return entity;
      });
      // One statement per batch, the columns as arrays: no per-row work in the ORM.
      await manager.query(INSERT_BATCH_SQL, [
        rows.map((row) => row.id),
        rows.map((row) => row.occurredAt.toISOString()),
        rows.map((row) => row.type),
        rows.map((row) => row.outcome),
        rows.map((row) => row.actorAgentId),
        rows.map((row) => row.targetType),
        rows.map((row) => row.targetId),
        rows.map((row) => row.requestId),
        rows.map((row) => row.clientIp),
        rows.map((row) => JSON.stringify(row.details)),
        rows.map((row) => row.prevHash),
        rows.map((row) => row.hash),
      ]);
    });
  }
}

/** Text PostgreSQL accepts: no NUL, no unpaired surrogate (attackers choose client ids). */
function storable(value: string): string {
  return value.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

function sanitize(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.map(sanitize);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [storable(key), sanitize(item)]),
    );
  }
  return value;
}
