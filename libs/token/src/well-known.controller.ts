import { Controller, Get, Header } from '@nestjs/common';
import { MANAGEMENT_SCOPES, Public } from '@agentidp/auth';
import { AppConfig } from '@agentidp/config';
import { SigningKeysService, type PublicJwk } from './signing-keys.service';

/** Discovery: RFC 8414 server metadata and the RFC 7517 key set. Served outside `/api/v1`. */
@Controller('.well-known')
@Public()
export class WellKnownController {
  constructor(
    private readonly keys: SigningKeysService,
    private readonly config: AppConfig,
  ) {}

  @Get('jwks.json')
  @Header('cache-control', 'public, max-age=300')
  jwks(): { keys: PublicJwk[] } {
    return this.keys.jwks();
  }

  @Get('oauth-authorization-server')
  @Header('cache-control', 'public, max-age=300')
  metadata(): Record<string, unknown> {
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
