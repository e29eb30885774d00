import { PageLimit } from '@agentidp/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsOptional, IsString, MaxLength } from 'class-validator';
import { AgentStatus } from '../agent.entity';

export class ListAgentsQuery {
  @PageLimit()
  limit?: number;

  @ApiPropertyOptional({ maxLength: 200, description: 'The nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ enum: AgentStatus, enumName: 'AgentStatus' })
  @IsOptional()
  @IsEnum(AgentStatus)
  status?: AgentStatus;
}
