import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { CurrentPrincipal, Principal, Scope } from '@agentidp/auth';
import { ParseUuidPipe } from '@agentidp/common';
import { AgentsService } from './agents.service';
import type { AgentPage, AgentResponse } from './dto/agent.response';
import { CreateAgentDto } from './dto/create-agent.dto';
import { ListAgentsQuery } from './dto/list-agents.query';
import { UpdateAgentDto } from './dto/update-agent.dto';

@Controller('agents')
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Post()
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateAgentDto,
  ): Promise<AgentResponse> {
    principal.require(Scope.AgentsWrite);
    principal.requireGrantable(dto.allowedScopes ?? []);
    return this.agents.create(dto);
  }

  @Get()
  list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListAgentsQuery,
  ): Promise<AgentPage> {
    // Without agents:read the caller sees only itself.
    return this.agents.list(query, principal.has(Scope.AgentsRead) ? undefined : principal.agentId);
  }

  @Get(':agentId')
  get(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
  ): Promise<AgentResponse> {
    principal.requireAgentAccess(agentId, Scope.AgentsRead, { selfAllowed: true });
    return this.agents.get(agentId);
  }

  @Patch(':agentId')
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @Body() dto: UpdateAgentDto,
  ): Promise<AgentResponse> {
    principal.requireAgentAccess(agentId, Scope.AgentsWrite, { selfAllowed: false });
    principal.requireGrantable(dto.allowedScopes ?? []);
    return this.agents.update(agentId, dto);
  }

  @Delete(':agentId')
  @HttpCode(204)
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
  ): Promise<void> {
    principal.requireAgentAccess(agentId, Scope.AgentsWrite, { selfAllowed: false });
    await this.agents.delete(agentId);
  }
}
