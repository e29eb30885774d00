import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import {
  DEFAULT_PAGE_SIZE,
  DomainException,
  ErrorCode,
  type RequestContext,
} from '@agentidp/common';
import { CredentialsService } from '@agentidp/credentials';
import { randomUUID } from 'node:crypto';
import { Repository, type QueryDeepPartialEntity } from 'typeorm';
import { Agent, AgentStatus } from './agent.entity';
import { decodeCursor, encodeCursor } from './cursor';
import { toAgentResponse, type AgentPage, type AgentResponse } from './dto/agent.response';
import type { CreateAgentDto } from './dto/create-agent.dto';
import type { ListAgentsQuery } from './dto/list-agents.query';
import type { UpdateAgentDto } from './dto/update-agent.dto';

@Injectable()
export class AgentsService {
  constructor(
    @InjectRepository(Agent) private readonly agents: Repository<Agent>,
    private readonly credentials: CredentialsService,
    private readonly audit: AuditService,
  ) {}

  /** `options.context`: the request asking, for the audit event (none at bootstrap). */
  async create(
    dto: CreateAgentDto,
    options: { id?: string; context?: RequestContext } = {},
  ): Promise<AgentResponse> {
    const now = new Date();
    const agent = Object.assign(new Agent(), {
      id: options.id ?? randomUUID(),
      name: dto.name.trim(),
      description: dto.description ?? null,
      owner: dto.owner ?? null,
      status: AgentStatus.Active,
      allowedScopes: unique(dto.allowedScopes ?? []),
      metadata: dto.metadata ?? {},
      tokensRevokedBefore: null,
      tokenGeneration: 0,
      createdAt: now,
      updatedAt: now,
    });
    await this.agents.insert(agent as QueryDeepPartialEntity<Agent>);
    this.audit.record({
      type: AuditEventType.AgentCreated,
      outcome: AuditOutcome.Success,
      targetType: 'agent',
      targetId: agent.id,
      details: { allowedScopes: agent.allowedScopes },
      context: options.context,
    });
    return toAgentResponse(agent);
  }

  async list(query: ListAgentsQuery, onlyId?: string): Promise<AgentPage> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const builder = this.agents
      .createQueryBuilder('agent')
      .orderBy('agent.createdAt', 'ASC')
      .addOrderBy('agent.id', 'ASC')
      .limit(limit + 1);
    if (query.status) builder.andWhere('agent.status = :status', { status: query.status });
    if (onlyId) builder.andWhere('agent.id = :onlyId', { onlyId });
    if (query.cursor) {
      const cursor = decodeCursor(query.cursor);
      builder.andWhere('(agent.createdAt, agent.id) > (:createdAt, :id)', cursor);
    }
    const rows = await builder.getMany();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toAgentResponse),
      nextCursor: rows.length > limit && last ? encodeCursor(last) : null,
    };
  }

  async get(id: string): Promise<AgentResponse> {
    return toAgentResponse(await this.load(id));
  }

  /**
   * Writes only the fields given, under a row lock: a concurrent PATCH of other fields cannot write
   * back a status (or anything else) it read before this one committed.
   */
  async update(id: string, dto: UpdateAgentDto, context?: RequestContext): Promise<AgentResponse> {
    const { agent, previousStatus } = await this.agents.manager.transaction(async (manager) => {
      const repository = manager.getRepository(Agent);
      const agent = await repository.findOne({
        where: { id },
        lock: { mode: 'pessimistic_write' },
      });
      if (!agent) throw new DomainException(ErrorCode.AGENT_NOT_FOUND, 'Agent not found');
      const previousStatus = agent.status;
      const updatedAt = new Date();
      const changes: Partial<Record<keyof Agent, unknown>> = { updatedAt };
      if (dto.name !== undefined) changes.name = agent.name = dto.name.trim();
      if (dto.description !== undefined) changes.description = agent.description = dto.description;
      if (dto.owner !== undefined) changes.owner = agent.owner = dto.owner;
      if (dto.allowedScopes !== undefined) {
        changes.allowedScopes = agent.allowedScopes = unique(dto.allowedScopes);
      }
      if (dto.metadata !== undefined) changes.metadata = agent.metadata = dto.metadata;
      if (dto.status !== undefined) changes.status = agent.status = dto.status;
      agent.updatedAt = updatedAt;
      // Suspension also ends every token issued so far, on every replica, on the next check: the
      // generation moves on (in SQL, from the locked row).
      if (dto.status === AgentStatus.Suspended && previousStatus !== AgentStatus.Suspended) {
        changes.tokensRevokedBefore = agent.tokensRevokedBefore = updatedAt;
        changes.tokenGeneration = () => 'token_generation + 1';
      }
      await repository.update({ id }, changes as QueryDeepPartialEntity<Agent>);
      return { agent, previousStatus };
    });
    this.audit.record({
      type:
        previousStatus === agent.status
          ? AuditEventType.AgentUpdated
          : agent.status === AgentStatus.Suspended
            ? AuditEventType.AgentSuspended
            : AuditEventType.AgentActivated,
      outcome: AuditOutcome.Success,
      targetType: 'agent',
      targetId: id,
      details: {
        fields: Object.keys(dto).filter(
          (key) => (dto as Record<string, unknown>)[key] !== undefined,
        ),
      },
      context,
    });
    return toAgentResponse(agent);
  }

  /** Removes the agent with every credential and every stored secret. */
  async delete(id: string, context?: RequestContext): Promise<void> {
    await this.load(id);
    const removed = await this.credentials.deleteAllForAgent(id, context);
    await this.agents.delete({ id });
    this.audit.record({
      type: AuditEventType.AgentDeleted,
      outcome: AuditOutcome.Success,
      targetType: 'agent',
      targetId: id,
      details: { credentialsRemoved: removed },
      context,
    });
  }

  async exists(id: string): Promise<boolean> {
    return this.agents.exists({ where: { id } });
  }

  private async load(id: string): Promise<Agent> {
    const agent = await this.agents.findOne({ where: { id } });
    if (!agent) throw new DomainException(ErrorCode.AGENT_NOT_FOUND, 'Agent not found');
    return agent;
  }
}

function unique(scopes: string[]): string[] {
  return [...new Set(scopes)];
}
