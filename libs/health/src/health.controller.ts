import { Controller, Get, Header } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { HealthCheckResult } from '@nestjs/terminus';
import { Public } from '@agentidp/auth';
import { ReadinessCheck } from './readiness-check';

const DATABASE_TIMEOUT_MS = 2000;

@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly extraChecks: ReadinessCheck,
  ) {}

  /** Liveness: touches no dependency, so a database blip never gets a pod restarted. */
  @Get()
  @Header('cache-control', 'no-store')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: every dependency, each bounded by a timeout; 503 with per-check details on failure. */
  @Get('ready')
  @HealthCheck()
  @Header('cache-control', 'no-store')
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: DATABASE_TIMEOUT_MS }),
      ...this.extraChecks.indicators(),
    ]);
  }
}
