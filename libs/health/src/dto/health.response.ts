import {
  ApiProperty,
  ApiPropertyOptional,
  ApiSchema,
  getSchemaPath,
  type ApiPropertyOptions,
} from '@nestjs/swagger';
import type { HealthCheckResult } from '@nestjs/terminus';

@ApiSchema({ name: 'HealthLive' })
export class HealthLiveDto {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';
}

/** One dependency's state; indicators may add members (e.g. `message`). */
@ApiSchema({
  name: 'HealthIndicatorStatus',
  description: 'One dependency; an indicator may add members such as message',
})
export class HealthIndicatorStatusDto {
  @ApiProperty({ enum: ['up', 'down'] })
  status: 'up' | 'down';

  @ApiPropertyOptional({ description: 'Why the dependency is down' })
  message?: string;
}

const INDICATORS: ApiPropertyOptions = {
  type: 'object',
  additionalProperties: { $ref: getSchemaPath(HealthIndicatorStatusDto) },
};
const UP = { database: { status: 'up' } };

/** OpenAPI of terminus' {@link HealthCheckResult}, plus the request id a 503 carries. */
@ApiSchema({
  name: 'HealthReady',
  description: 'Per-dependency readiness (database, and Vault when configured)',
})
export class HealthReadyDto implements HealthCheckResult {
  @ApiProperty({ enum: ['ok', 'error', 'shutting_down'] })
  status: 'ok' | 'error' | 'shutting_down';

  @ApiPropertyOptional({ ...INDICATORS, description: 'The dependencies that are up', example: UP })
  info?: Record<string, HealthIndicatorStatusDto>;

  @ApiPropertyOptional({
    ...INDICATORS,
    description: 'The dependencies that are down',
    example: { database: { status: 'down', message: 'timeout of 2000ms exceeded' } },
  })
  error?: Record<string, HealthIndicatorStatusDto>;

  @ApiProperty({ ...INDICATORS, description: 'Every dependency', example: UP })
  details: Record<string, HealthIndicatorStatusDto>;

  @ApiPropertyOptional({ description: 'On 503 only; also the x-request-id header' })
  requestId?: string;
}
