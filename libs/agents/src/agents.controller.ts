import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, Principal, Scope } from '@agentidp/auth';
import {
  ApiErrorResponses,
  ApiUuidParam,
  CurrentRequest,
  ParseUuidPipe,
  type RequestContext,
} from '@agentidp/common';
import { AgentsService } from './agents.service';
import { AgentPage, AgentResponse } from './dto/agent.response';
import { CreateAgentDto } from './dto/create-agent.dto';
import { ListAgentsQuery } from './dto/list-agents.query';
import { UpdateAgentDto } from './dto/update-agent.dto';

const AGENT_ID = 'The agent id (its OAuth client_id)';

@Controller('agents')
@ApiTags('agents')
@ApiBearerAuth('bearer')
@ApiErrorResponses([401, 429, 500, 503])
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Post()
  @ApiOperation({
    summary: 'Create an agent',
    description: 'Needs agents:write; granting a management scope needs that scope too.',
  })
  @ApiBody({ type: CreateAgentDto })
  @ApiCreatedResponse({ type: AgentResponse, description: 'The new agent' })
  @ApiErrorResponses([400, 403, 413, 415])
  create(
    @CurrentPrincipal() principal: Principal,
    @Body() dto: CreateAgentDto,
    @CurrentRequest() context: RequestContext,
  ): Promise<AgentResponse> {
    principal.require(Scope.AgentsWrite);
    principal.requireGrantable(dto.allowedScopes ?? []);
    return this.agents.create(dto, { context });
  }

  @Get()
  @ApiOperation({
    summary: 'List agents',
    description:
      'Newest first, keyset-paginated. With agents:read every agent; without it, only the caller itself.',
  })
  @ApiOkResponse({ type: AgentPage, description: 'One page of agents' })
  @ApiErrorResponses([400])
  list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListAgentsQuery,
  ): Promise<AgentPage> {
    // Without agents:read the caller sees only itself.
    return this.agents.list(query, principal.has(Scope.AgentsRead) ? undefined : principal.agentId);
  }

  @Get(':agentId')
  @ApiOperation({
    summary: 'Get an agent',
    description: 'Needs agents:read, except for the caller itself.',
  })
  @ApiUuidParam('agentId', AGENT_ID)
  @ApiOkResponse({ type: AgentResponse, description: 'The agent' })
  @ApiErrorResponses([400, 404])
  get(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
  ): Promise<AgentResponse> {
    principal.requireAgentAccess(agentId, Scope.AgentsRead, { selfAllowed: true });
    return this.agents.get(agentId);
  }

  @Patch(':agentId')
  @ApiOperation({
    summary: 'Update an agent',
    description:
      'Needs agents:write. Fields left out are unchanged; `status: suspended` is the kill switch.',
  })
  @ApiUuidParam('agentId', AGENT_ID)
  @ApiBody({ type: UpdateAgentDto })
  @ApiOkResponse({ type: AgentResponse, description: 'The updated agent' })
  @ApiErrorResponses([400, 403, 404, 413, 415])
  update(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @Body() dto: UpdateAgentDto,
    @CurrentRequest() context: RequestContext,
  ): Promise<AgentResponse> {
    principal.requireAgentAccess(agentId, Scope.AgentsWrite, { selfAllowed: false });
    principal.requireGrantable(dto.allowedScopes ?? []);
    return this.agents.update(agentId, dto, context);
  }

  @Delete(':agentId')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete an agent',
    description: 'Needs agents:write. Its credentials are deleted with it.',
  })
  @ApiUuidParam('agentId', AGENT_ID)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrorResponses([400, 403, 404])
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @CurrentRequest() context: RequestContext,
  ): Promise<void> {
    principal.requireAgentAccess(agentId, Scope.AgentsWrite, { selfAllowed: false });
    await this.agents.delete(agentId, context);
  }
}
