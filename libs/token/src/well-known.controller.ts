import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '@agentidp/common';
import { MANAGEMENT_SCOPES, Public } from '@agentidp/auth';
import { AppConfig } from '@agentidp/config';
import { AuthorizationServerMetadataDto, JwksDto } from './dto/well-known.response';
import { SigningKeysService } from './signing-keys.service';

/** Discovery: RFC 8414 server metadata and the RFC 7517 key set. Served outside `/api/v1`. */
@Controller('.well-known')
@Public()
@ApiTags('discovery')
@ApiErrorResponses([500])
export class WellKnownController {
  constructor(
    private readonly keys: SigningKeysService,
    private readonly config: AppConfig,
  ) {}

  @Get('jwks.json')
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({
    summary: 'The signing keys (JWKS)',
    description:
      'RFC 7517. Resource servers verify access tokens (ES256) with these keys; refetch on an unknown kid.',
  })
  @ApiOkResponse({ type: JwksDto, description: 'The public keys' })
  jwks(): JwksDto {
    return this.keys.jwks();
  }

  @Get('oauth-authorization-server')
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({ summary: 'Authorization server metadata', description: 'RFC 8414.' })
  @ApiOkResponse({ type: AuthorizationServerMetadataDto, description: 'The metadata' })
  metadata(): AuthorizationServerMetadataDto {
    const base = this.config.http.publicUrl;
    const authMethods = ['client_secret_basic', 'client_secret_post'];
    return {
      issuer: base,
      token_endpoint: `${base}/api/v1/token`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      introspection_endpoint: `${base}/api/v1/token/introspect`,
      revocation_endpoint: `${base}/api/v1/token/revoke`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: authMethods,
      introspection_endpoint_auth_methods_supported: authMethods,
      revocation_endpoint_auth_methods_supported: authMethods,
      scopes_supported: MANAGEMENT_SCOPES,
      service_documentation: `${base}/api/docs`,
    };
  }
}
