import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';

/** An arbitrary, fixed advisory-lock key: "agentidp" in ASCII, as a bigint. */
const MIGRATION_LOCK_KEY = '7017851454063191408';

/**
 * Applies pending migrations. Against a shared PostgreSQL this holds a session advisory lock on a
 * connection of its own, so replicas starting together apply each migration exactly once.
 */
export async function runMigrationsLocked(
  dataSource: DataSource,
  options: { url: string; useLock: boolean; connectTimeoutMs: number; ssl: boolean },
): Promise<void> {
  const logger = new Logger('Migrations');
  if (!options.useLock) {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length) logger.log(`Applied ${applied.map((m) => m.name).join(', ')}`);
    return;
  }
  const lock = new Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    ssl: options.ssl ? { rejectUnauthorized: true } : undefined,
    application_name: 'agentidp-migrations',
  });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    if (applied.length) logger.log(`Applied ${applied.map((m) => m.name).join(', ')}`);
  } finally {
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await lock.end().catch(() => undefined);
  }
}
