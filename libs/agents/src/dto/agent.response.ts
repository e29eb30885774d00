import type { Agent, AgentStatus } from '../agent.entity';

export interface AgentResponse {
  id: string;
  name: string;
  description: string | null;
  owner: string | null;
  status: AgentStatus;
  allowedScopes: string[];
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface AgentPage {
  items: AgentResponse[];
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
