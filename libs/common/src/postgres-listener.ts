import type { Logger } from '@nestjs/common';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { postgresPool } from './prepared-query';

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * `LISTEN` on one channel, over a connection of its own opened with the settings of TypeORM's
 * pool (a pooled connection would be handed to queries, and its LISTEN lost). `onSignal` runs on
 * each notification and after each reconnection, since notifications sent while the connection
 * was down are lost and the listener has to catch up. Reconnects with backoff until closed.
 * PostgreSQL only: the embedded database serves a single connection.
 */
export class PostgresListener {
  private client?: Client;
  private closed = false;
  private failures = 0;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    private readonly channel: string,
    private readonly onSignal: () => void,
    private readonly logger: Logger,
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`Bad channel name: ${channel}`);
  }

  /** Resolves once listening, or once the first attempt failed (retries go on in the background). */
  start(): Promise<void> {
    return this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const pool = postgresPool(this.dataSource);
    if (!pool) throw new Error('The database is not connected');
    const client = new Client({ ...pool.options, keepAlive: true });
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      this.retry(error);
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.onSignal();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (error) {
      onLost(error as Error);
      return;
    }
    if (this.closed || lost) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    if (this.failures > 0) {
      this.logger.log(`Listening on ${this.channel} again`);
      this.failures = 0;
      this.onSignal();
    }
  }

  private retry(error?: Error): void {
    if (this.closed || this.retryTimer) return;
    const delay = Math.min(MAX_RETRY_DELAY_MS, 1000 * 2 ** this.failures);
    if (this.failures === 0) {
      this.logger.warn(
        `Lost the ${this.channel} listener (${error?.message ?? 'connection ended'}); retrying`,
      );
    }
    this.failures += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}
