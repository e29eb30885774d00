import { Body, Controller, Delete, Get, Header, HttpCode, Param, Post } from '@nestjs/common';
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
import { CredentialsService } from './credentials.service';
import { CreateCredentialDto } from './dto/create-credential.dto';
import {
  CredentialList,
  CredentialResponse,
  CredentialWithSecretResponse,
} from './dto/credential.response';

@Controller('agents/:agentId/credentials')
@ApiTags('credentials')
@ApiBearerAuth('bearer')
@ApiUuidParam('agentId', 'The owning agent id (the OAuth client_id)')
@ApiErrorResponses([400, 401, 404, 429, 500, 503])
export class CredentialsController {
  constructor(private readonly credentials: CredentialsService) {}

  @Post()
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Create a credential',
    description:
      'Needs credentials:write. The response carries the client secret: the only time it is shown. The body is optional; without an expiry the credential does not expire.',
  })
  @ApiBody({ type: CreateCredentialDto, required: false })
  @ApiCreatedResponse({ type: CredentialWithSecretResponse, description: 'The new credential' })
  @ApiErrorResponses([403, 409, 413, 415], {
    409: 'CONFLICT: the agent already holds the maximum number of credentials',
  })
  create(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @Body() dto: CreateCredentialDto,
    @CurrentRequest() context: RequestContext,
  ): Promise<CredentialWithSecretResponse> {
    principal.requireAgentAccess(agentId, Scope.CredentialsWrite, { selfAllowed: false });
    return this.credentials.create(agentId, dto, context);
  }

  @Get()
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: "List an agent's credentials",
    description: "Needs credentials:read, except for the caller's own. Never includes secrets.",
  })
  @ApiOkResponse({ type: CredentialList, description: 'Every credential of the agent' })
  list(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
  ): Promise<CredentialList> {
    principal.requireAgentAccess(agentId, Scope.CredentialsRead, { selfAllowed: true });
    return this.credentials.list(agentId);
  }

  @Get(':credentialId')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Get a credential',
    description: "Needs credentials:read, except for the caller's own. Never includes the secret.",
  })
  @ApiUuidParam('credentialId', 'The credential id')
  @ApiOkResponse({ type: CredentialResponse, description: 'The credential' })
  get(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @Param('credentialId', ParseUuidPipe) credentialId: string,
  ): Promise<CredentialResponse> {
    principal.requireAgentAccess(agentId, Scope.CredentialsRead, { selfAllowed: true });
    return this.credentials.get(agentId, credentialId);
  }

  @Post(':credentialId/rotate')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary: 'Rotate a credential',
    description:
      "Needs credentials:write, except for the caller's own. The old secret stops working at once; the new one is shown only in this response. Takes no body.",
  })
  @ApiUuidParam('credentialId', 'The credential id')
  @ApiOkResponse({ type: CredentialWithSecretResponse, description: 'The credential, new secret' })
  @ApiErrorResponses([403, 413, 415])
  rotate(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @Param('credentialId', ParseUuidPipe) credentialId: string,
    @CurrentRequest() context: RequestContext,
  ): Promise<CredentialWithSecretResponse> {
    principal.requireAgentAccess(agentId, Scope.CredentialsWrite, { selfAllowed: true });
    return this.credentials.rotate(agentId, credentialId, context);
  }

  @Delete(':credentialId')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Delete a credential',
    description: 'Needs credentials:write. Its secret stops working at once.',
  })
  @ApiUuidParam('credentialId', 'The credential id')
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrorResponses([403])
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @Param('credentialId', ParseUuidPipe) credentialId: string,
    @CurrentRequest() context: RequestContext,
  ): Promise<void> {
    principal.requireAgentAccess(agentId, Scope.CredentialsWrite, { selfAllowed: false });
    await this.credentials.delete(agentId, credentialId, context);
  }
}
