import { ApiProperty } from '@nestjs/swagger';
import { AgentStatus, type Agent } from '../agent.entity';

export class AgentResponse {
  @ApiProperty({ format: 'uuid', description: 'The agent id; also its OAuth client_id' })
  id: string;

  @ApiProperty({ example: 'billing-bot' })
  name: string;

  @ApiProperty({ type: String, nullable: true })
  description: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The accountable human, e.g. an email address',
    example: 'ops@example.com',
  })
  owner: string | null;

  @ApiProperty({
    enum: AgentStatus,
    enumName: 'AgentStatus',
    description: '`suspended` agents get no new tokens; their tokens introspect as inactive',
  })
  status: AgentStatus;

  @ApiProperty({
    type: [String],
    description: 'Scopes the agent may request',
    example: ['invoices:read'],
  })
  allowedScopes: string[];

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Free-form JSON object',
  })
  metadata: Record<string, unknown>;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;
}

export class AgentPage {
  @ApiProperty({ type: [AgentResponse] })
  items: AgentResponse[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` to get the next page; null on the last page',
  })
  nextCursor: string | null;
}

export function toAgentResponse(agent: Agent): AgentResponse {
  return {
    id: agent.id,
    name: agent.name,
    description: agent.description,
    owner: agent.owner,
    status: agent.status,
    allowedScopes: agent.allowedScopes,
    metadata: agent.metadata,
    createdAt: agent.createdAt.toISOString(),
    updatedAt: agent.updatedAt.toISOString(),
  };
}
