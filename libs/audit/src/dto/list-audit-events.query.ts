import { PageLimit } from '@agentidp/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';

export class ListAuditEventsQuery {
  @ApiPropertyOptional({
    format: 'uuid',
    description: 'Events where this agent is the actor or the target',
  })
  @IsOptional()
  @IsUUID()
  agentId?: string;

  @ApiPropertyOptional({ maxLength: 64, description: 'An event type', example: 'token.issued' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  type?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Inclusive lower bound (RFC 3339)' })
  @IsOptional()
  @IsDateString({ strict: true })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Exclusive upper bound (RFC 3339)' })
  @IsOptional()
  @IsDateString({ strict: true })
  to?: string;

  @PageLimit()
  limit?: number;

  @ApiPropertyOptional({ maxLength: 20, description: 'The nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(20)
  cursor?: string;
}
