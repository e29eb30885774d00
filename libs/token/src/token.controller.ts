import { applyDecorators, Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import {
  ApiBasicAuth,
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { Public } from '@agentidp/auth';
import {
  ApiOAuthErrorResponses,
  CurrentRequest,
  OAuthException,
  type RequestContext,
} from '@agentidp/common';
import type { FastifyReply } from 'fastify';
import { AccessTokenService } from './access-token.service';
import { readParams } from './client-authentication';
import {
  IntrospectionRequestDto,
  RevocationRequestDto,
  TokenRequestDto,
} from './dto/oauth-request.dto';
import {
  IntrospectionResponseDto,
  RevocationResponseDto,
  TokenResponseDto,
} from './dto/token.response';
import { TokenEndpoint } from './token.endpoint';
import { TokenService, type IntrospectionResponse, type TokenResponse } from './token.service';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/**
 * Client authentication as RFC 6749 §2.3.1 has it: HTTP Basic (client_secret_basic), or
 * `client_id`/`client_secret` in the body (client_secret_post, hence the empty requirement).
 */
function ApiClientAuthentication() {
  return applyDecorators(ApiBasicAuth('client_secret_basic'), ApiSecurity({}));
}

/** The OAuth endpoints. They authenticate clients themselves and speak RFC 6749 error bodies. */
@Controller('token')
@Public()
@ApiTags('oauth')
@ApiConsumes('application/x-www-form-urlencoded', 'application/json')
@ApiProduces('application/json')
@ApiOAuthErrorResponses([400, 401, 413, 415, 429, 500, 503])
export class TokenController {
  constructor(
    private readonly tokens: TokenService,
    private readonly accessTokens: AccessTokenService,
    private readonly endpoint: TokenEndpoint,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Get an access token (client_credentials)',
    description:
      'RFC 6749 §4.4. Authenticate with HTTP Basic or with client_id and client_secret in the body, never both. Without `scope`, every scope the client is allowed is granted.',
  })
  @ApiClientAuthentication()
  @ApiBody({ type: TokenRequestDto })
  @ApiOkResponse({ type: TokenResponseDto, description: 'The access token' })
  token(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentRequest() context: RequestContext,
  ): Promise<TokenResponse> {
    // Served by TokenEndpoint.serve once the app is attached (see app.factory); same contract.
    return this.endpoint.grant(authorization, body, reply, context);
  }

  @Post('introspect')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Introspect a token',
    description:
      'RFC 7662. The caller is a client (HTTP Basic or body credentials), or holds a bearer token with tokens:introspect. A client without tokens:introspect learns only about its own tokens.',
  })
  @ApiBearerAuth('bearer')
  @ApiClientAuthentication()
  @ApiBody({ type: IntrospectionRequestDto })
  @ApiOkResponse({ type: IntrospectionResponseDto, description: 'The token state' })
  @ApiOAuthErrorResponses([403])
  async introspect(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentRequest() context: RequestContext,
  ): Promise<IntrospectionResponse> {
    reply.headers(NO_STORE);
    const params = readParams(body);
    const bearer = authorization && /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (bearer) {
      const principal = await this.accessTokens.verifyBearer(bearer[1]);
      if (!principal) {
        throw new OAuthException('invalid_client', 'The bearer token is invalid', 401, {
          'www-authenticate': 'Bearer realm="agentidp", error="invalid_token"',
        });
      }
      return this.tokens.introspect({ bearerScopes: principal.scopes }, undefined, params, context);
    }
    return this.tokens.introspect({}, authorization, params, context);
  }

  @Post('revoke')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Revoke a token',
    description:
      'RFC 7009. A client revokes its own tokens (an admin client any token). An invalid or unknown token is answered 200 too.',
  })
  @ApiClientAuthentication()
  @ApiBody({ type: RevocationRequestDto })
  @ApiOkResponse({ type: RevocationResponseDto, description: 'Revoked, or nothing to revoke' })
  async revoke(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentRequest() context: RequestContext,
  ): Promise<Record<string, never>> {
    reply.headers(NO_STORE);
    await this.tokens.revoke(authorization, readParams(body), context);
    return {};
  }
}
