import { Controller, Get, Header } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { HealthCheckResult } from '@nestjs/terminus';
import { ApiErrorResponses } from '@agentidp/common';
import { Public } from '@agentidp/auth';
import { HealthIndicatorStatusDto, HealthLiveDto, HealthReadyDto } from './dto/health.response';
import { ReadinessCheck } from './readiness-check';

const DATABASE_TIMEOUT_MS = 2000;

@Controller('health')
@Public()
@ApiTags('health')
@ApiExtraModels(HealthIndicatorStatusDto)
@ApiErrorResponses([500])
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly extraChecks: ReadinessCheck,
  ) {}

  /** Liveness: touches no dependency, so a database blip never gets a pod restarted. */
  @Get()
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Liveness',
    description: 'Touches no dependency: a database outage does not make it fail.',
  })
  @ApiOkResponse({ type: HealthLiveDto, description: 'The process is up' })
  live(): HealthLiveDto {
    return { status: 'ok' };
  }

  /** Readiness: every dependency, each bounded by a timeout; 503 with per-check details on failure. */
  @Get('ready')
  // Documented below with named schemas instead of terminus' inline ones.
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Readiness',
    description: 'Checks every dependency (database; Vault when configured), each with a timeout.',
  })
  @ApiOkResponse({ type: HealthReadyDto, description: 'Every dependency is up' })
  @ApiServiceUnavailableResponse({
    type: HealthReadyDto,
    description: 'A dependency is down; `error` names it',
  })
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: DATABASE_TIMEOUT_MS }),
      ...this.extraChecks.indicators(),
    ]);
  }
}
