import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AbuseStore, type WindowCount } from './abuse-store';

const PURGE_INTERVAL_MS = 10 * 60_000;

/** Counters in the `abuse_counters` table: one upsert per event, shared through the database. */
@Injectable()
export class PostgresAbuseStore extends AbuseStore implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PostgresAbuseStore.name);
  private timer?: NodeJS.Timeout;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.purge(), PURGE_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async increment(key: string, windowSeconds: number): Promise<WindowCount> {
    const rows = await this.dataSource.query<{ count: number; retry_after: number }[]>(
      `INSERT INTO abuse_counters AS c (key, count, window_ends_at)
         VALUES ($1, 1, now() + make_interval(secs => $2))
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN c.window_ends_at <= now() THEN 1 ELSE c.count + 1 END,
         window_ends_at = CASE WHEN c.window_ends_at <= now()
                               THEN now() + make_interval(secs => $2) ELSE c.window_ends_at END
       RETURNING count, CEIL(EXTRACT(EPOCH FROM (window_ends_at - now())))::int AS retry_after`,
      [key, windowSeconds],
    );
    return { count: rows[0].count, retryAfterSeconds: Math.max(1, rows[0].retry_after) };
  }

  async peek(key: string): Promise<WindowCount | null> {
    const rows = await this.dataSource.query<{ count: number; retry_after: number }[]>(
      `SELECT count, CEIL(EXTRACT(EPOCH FROM (window_ends_at - now())))::int AS retry_after
         FROM abuse_counters WHERE key = $1 AND window_ends_at > now()`,
      [key],
    );
    return rows[0]
      ? { count: rows[0].count, retryAfterSeconds: Math.max(1, rows[0].retry_after) }
      : null;
  }

  async extend(key: string, seconds: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE abuse_counters SET window_ends_at = now() + make_interval(secs => $2) WHERE key = $1`,
      [key, seconds],
    );
  }

  async clear(key: string): Promise<void> {
    await this.dataSource.query('DELETE FROM abuse_counters WHERE key = $1', [key]);
  }

  private async purge(): Promise<void> {
    try {
      await this.dataSource.query(
        `DELETE FROM abuse_counters WHERE window_ends_at < now() - interval '1 hour'`,
      );
    } catch (error) {
      this.logger.warn(`Could not purge expired counters: ${(error as Error).message}`);
    }
  }
}
