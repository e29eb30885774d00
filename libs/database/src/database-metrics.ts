import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { postgresPool } from '@agentidp/common';
import { Metrics } from '@agentidp/metrics';
import { DataSource } from 'typeorm';

/** Connection pool use, read at scrape time. */
@Injectable()
export class DatabaseMetrics implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    const pool = () => postgresPool(this.dataSource);
    const help = 'PostgreSQL pool connections by state';
    this.metrics.gauge('agentidp_db_pool_connections', help, () => pool()?.totalCount, {
      state: 'total',
    });
    this.metrics.gauge('agentidp_db_pool_connections', help, () => pool()?.idleCount, {
      state: 'idle',
    });
    this.metrics.gauge('agentidp_db_pool_connections', help, () => pool()?.waitingCount, {
      state: 'waiting',
    });
  }
}
