import { Body, Controller, Delete, Get, Header, HttpCode, Param, Post } from '@nestjs/common';
import { CurrentPrincipal, Principal, Scope } from '@agentidp/auth';
import { ParseUuidPipe } from '@agentidp/common';
import { CredentialsService } from './credentials.service';
import { CreateCredentialDto } from './dto/create-credential.dto';
import type { CredentialResponse, CredentialWithSecretResponse } from './dto/credential.response';

@Controller('agents/:agentId/credentials')
export class CredentialsController {
  constructor(private readonly credentials: CredentialsService) {}

  @Post()
  @Header('cache-control', 'no-store')
  create(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @Body() dto: CreateCredentialDto,
  ): Promise<CredentialWithSecretResponse> {
    principal.requireAgentAccess(agentId, Scope.CredentialsWrite, { selfAllowed: false });
    return this.credentials.create(agentId, dto);
  }

  @Get()
  @Header('cache-control', 'no-store')
  list(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
  ): Promise<{ items: CredentialResponse[] }> {
    principal.requireAgentAccess(agentId, Scope.CredentialsRead, { selfAllowed: true });
    return this.credentials.list(agentId);
  }

  @Get(':credentialId')
  @Header('cache-control', 'no-store')
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
  rotate(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @Param('credentialId', ParseUuidPipe) credentialId: string,
  ): Promise<CredentialWithSecretResponse> {
    principal.requireAgentAccess(agentId, Scope.CredentialsWrite, { selfAllowed: true });
    return this.credentials.rotate(agentId, credentialId);
  }

  @Delete(':credentialId')
  @HttpCode(204)
  async delete(
    @CurrentPrincipal() principal: Principal,
    @Param('agentId', ParseUuidPipe) agentId: string,
    @Param('credentialId', ParseUuidPipe) credentialId: string,
  ): Promise<void> {
    principal.requireAgentAccess(agentId, Scope.CredentialsWrite, { selfAllowed: false });
    await this.credentials.delete(agentId, credentialId);
  }
}
