import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@agentidp/config';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options';
import { DatabaseMetrics } from './database-metrics';
import { EmbeddedPostgresHost } from './embedded-postgres.provider';
import { runMigrationsLocked } from './migration-runner';

interface MigrationPlan {
  run: boolean;
  url: string;
  useLock: boolean;
  connectTimeoutMs: number;
  ssl: boolean;
}

// useFactory (which can inject) and dataSourceFactory (which cannot) run back to back for the
// same options object; this hands the migration plan from one to the other.
const plans = new WeakMap<DataSourceOptions, MigrationPlan>();

@Module({
  providers: [EmbeddedPostgresHost],
  exports: [EmbeddedPostgresHost],
})
class EmbeddedPostgresModule {}

/** PostgreSQL through TypeORM: DATABASE_URL, or the embedded PGlite when it is unset. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      imports: [EmbeddedPostgresModule],
      inject: [AppConfig, EmbeddedPostgresHost],
      useFactory: async (config: AppConfig, host: EmbeddedPostgresHost) => {
        const url = config.database.url ?? (await host.url());
        const options = buildDataSourceOptions(config, url);
        plans.set(options, {
          run: config.database.migrationsRun,
          url,
          useLock: !config.embeddedDatabase,
          connectTimeoutMs: config.database.connectTimeoutMs,
          ssl: config.database.ssl,
        });
        return options;
      },
      dataSourceFactory: async (options) => {
        if (!options) throw new Error('TypeORM options missing');
        const dataSource = await new DataSource(options).initialize();
        const plan = plans.get(options);
        if (plan?.run) await runMigrationsLocked(dataSource, plan);
        return dataSource;
      },
    }),
  ],
  providers: [DatabaseMetrics],
  exports: [TypeOrmModule],
})
export class DatabaseModule {}
