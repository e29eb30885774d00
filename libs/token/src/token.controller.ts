import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { Public } from '@agentidp/auth';
import { OAuthException } from '@agentidp/common';
import type { FastifyReply } from 'fastify';
import { AccessTokenService } from './access-token.service';
import { readParams } from './client-authentication';
import { TokenService, type IntrospectionResponse, type TokenResponse } from './token.service';

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** The OAuth endpoints. They authenticate clients themselves and speak RFC 6749 error bodies. */
@Controller('token')
@Public()
export class TokenController {
  constructor(
    private readonly tokens: TokenService,
    private readonly accessTokens: AccessTokenService,
  ) {}

  @Post()
  @HttpCode(200)
  async token(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TokenResponse> {
    reply.headers(NO_STORE);
    return this.tokens.grant(authorization, readParams(body));
  }

  @Post('introspect')
  @HttpCode(200)
  async introspect(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
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
      return this.tokens.introspect({ bearerScopes: principal.scopes }, undefined, params);
    }
    return this.tokens.introspect({}, authorization, params);
  }

  @Post('revoke')
  @HttpCode(200)
  async revoke(
    @Headers('authorization') authorization: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Record<string, never>> {
    reply.headers(NO_STORE);
    await this.tokens.revoke(authorization, readParams(body));
    return {};
  }
}
