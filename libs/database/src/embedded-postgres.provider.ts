import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppConfig } from '@agentidp/config';
import { DataSource } from 'typeorm';
import { EmbeddedPostgres } from './embedded-postgres';

/**
 * Owns the embedded PostgreSQL's lifetime inside the application. Closing order matters: the pool
 * first, then PGlite, so it is closed here rather than left to hook ordering.
 */
@Injectable()
export class EmbeddedPostgresHost implements OnApplicationShutdown {
  private embedded?: EmbeddedPostgres;

  constructor(
    private readonly config: AppConfig,
    private readonly moduleRef: ModuleRef,
  ) {}

  async url(): Promise<string> {
    this.embedded ??= new EmbeddedPostgres(this.config.database.dataDir);
    return this.embedded.start();
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.embedded) return;
    const dataSource = this.moduleRef.get(DataSource, { strict: false });
    if (dataSource.isInitialized) await dataSource.destroy();
    await this.embedded.stop();
  }
}
