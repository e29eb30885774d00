import { Injectable } from '@nestjs/common';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import { Scope } from '@agentidp/auth';
import { ErrorCode, OAuthException, type RequestContext } from '@agentidp/common';
import { AppConfig } from '@agentidp/config';
import { ClientAuthenticator, type AuthenticatedClient } from '@agentidp/credentials';
import { AccessTokenService } from './access-token.service';
import {
  BASIC_CHALLENGE,
  readClientCredentials,
  type ClientCredentials,
} from './client-authentication';
import type { AccessTokenClaims } from './jwt';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
}

export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      scope?: string;
      client_id: string;
      sub: string;
      aud: string;
      iss: string;
      exp: number;
      iat: number;
      jti: string;
      token_type: 'Bearer';
    };

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The OAuth 2.0 endpoints: client_credentials (RFC 6749 §4.4), introspection (7662), revocation (7009). */
@Injectable()
export class TokenService {
  constructor(
    private readonly authenticator: ClientAuthenticator,
    private readonly tokens: AccessTokenService,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
  ) {}

  async grant(
    authorization: string | undefined,
    params: Record<string, string>,
    context?: RequestContext,
  ): Promise<TokenResponse> {
    const credentials = readClientCredentials(authorization, params);
    if (params.grant_type === undefined) {
      throw new OAuthException('invalid_request', 'grant_type is required');
    }
    const client = await this.authenticateClient(credentials, context);
    if (params.grant_type !== 'client_credentials') {
      this.deny(client.agentId, 'unsupported_grant_type', context);
      throw new OAuthException('unsupported_grant_type', 'Only client_credentials is supported');
    }
    if (!client.agentActive) {
      this.deny(client.agentId, 'agent_suspended', context);
      throw new OAuthException('unauthorized_client', 'The client is suspended');
    }
    const scope = this.grantedScope(client, params.scope, context);
    const { token, claims } = this.tokens.issue({
      agentId: client.agentId,
      credentialId: client.credentialId,
      secretVersion: client.secretVersion,
      tokenGeneration: client.tokenGeneration,
      scope,
    });
    this.audit.record({
      type: AuditEventType.TokenIssued,
      outcome: AuditOutcome.Success,
      actorAgentId: client.agentId,
      targetType: 'token',
      targetId: claims.jti,
      details: {
        credentialId: client.credentialId,
        scope: claims.scope ?? '',
        method: credentials?.method,
      },
      context,
    });
    return {
      access_token: token,
      token_type: 'Bearer',
      expires_in: this.config.token.ttlSeconds,
      ...(claims.scope ? { scope: claims.scope } : {}),
    };
  }

  /**
   * RFC 7662. The caller is a client (Basic or body credentials) or holds a bearer token with
   * `tokens:introspect`. A client without that scope learns only about its own tokens.
   */
  async introspect(
    caller: { bearerScopes?: ReadonlySet<string> },
    authorization: string | undefined,
    params: Record<string, string>,
    context?: RequestContext,
  ): Promise<IntrospectionResponse> {
    let mayIntrospectAny: boolean;
    let callerAgentId: string | undefined;
    if (caller.bearerScopes) {
      mayIntrospectAny =
        caller.bearerScopes.has(Scope.TokensIntrospect) || caller.bearerScopes.has(Scope.Admin);
      if (!mayIntrospectAny) {
        throw new OAuthException(
          'invalid_client',
          'Introspection needs the tokens:introspect scope',
          403,
        );
      }
    } else {
      const client = await this.authenticateClient(
        readClientCredentials(authorization, params),
        context,
      );
      callerAgentId = client.agentId;
      mayIntrospectAny =
        client.agentActive &&
        (client.allowedScopes.includes(Scope.TokensIntrospect) ||
          client.allowedScopes.includes(Scope.Admin));
    }
    if (params.token === undefined || params.token === '') {
      throw new OAuthException('invalid_request', 'token is required');
    }
    const claims = await this.tokens.verify(params.token);
    if (!claims || (!mayIntrospectAny && claims.client_id !== callerAgentId))
      return { active: false };
    return {
      active: true,
      ...(claims.scope ? { scope: claims.scope } : {}),
      client_id: claims.client_id,
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      token_type: 'Bearer',
    };
  }

  /** RFC 7009: a client revokes its own tokens; an invalid or unknown token is answered 200 too. */
  async revoke(
    authorization: string | undefined,
    params: Record<string, string>,
    context?: RequestContext,
  ): Promise<void> {
    const client = await this.authenticateClient(
      readClientCredentials(authorization, params),
      context,
    );
    if (params.token === undefined || params.token === '') {
      throw new OAuthException('invalid_request', 'token is required');
    }
    const claims: AccessTokenClaims | null = await this.tokens.verifySignatureAndClaims(
      params.token,
    );
    if (!claims) return;
    const isAdmin = client.agentActive && client.allowedScopes.includes(Scope.Admin);
    if (claims.client_id !== client.agentId && !isAdmin) {
      throw new OAuthException('unauthorized_client', 'The token was not issued to this client');
    }
    await this.tokens.revoke(claims);
    this.audit.record({
      type: AuditEventType.TokenRevoked,
      outcome: AuditOutcome.Success,
      actorAgentId: client.agentId,
      targetType: 'token',
      targetId: claims.jti,
      details: { tokenClientId: claims.client_id },
      context,
    });
  }

  private async authenticateClient(
    credentials: ClientCredentials | null,
    context: RequestContext | undefined,
  ): Promise<AuthenticatedClient> {
    if (!credentials) {
      throw new OAuthException('invalid_client', 'Client authentication is required', 401, {
        'www-authenticate': BASIC_CHALLENGE,
      });
    }
    const result = await this.authenticator.authenticate(
      credentials.clientId,
      credentials.clientSecret,
      context,
    );
    if (!result.ok && result.reason === 'locked_out') {
      this.audit.record({
        type: AuditEventType.TokenDenied,
        outcome: AuditOutcome.Denied,
        targetType: 'client',
        targetId: credentials.clientId.slice(0, 64),
        details: { reason: 'locked_out', method: credentials.method },
        context,
      });
      throw new OAuthException(
        'invalid_client',
        'Too many failed authentications; this client is locked out for now',
        429,
        { 'retry-after': String(result.lockedForSeconds) },
        ErrorCode.CLIENT_LOCKED_OUT,
      );
    }
    if (!result.ok) {
      this.audit.record({
        type: AuditEventType.TokenDenied,
        outcome: AuditOutcome.Denied,
        targetType: 'client',
        targetId: credentials.clientId.slice(0, 64),
        details: { reason: result.reason, method: credentials.method },
        context,
      });
      // One answer for an unknown client, a wrong secret or an expired credential.
      throw new OAuthException(
        'invalid_client',
        'Client authentication failed',
        401,
        credentials.method === 'client_secret_basic' ? { 'www-authenticate': BASIC_CHALLENGE } : {},
      );
    }
    return result.client;
  }

  private grantedScope(
    client: AuthenticatedClient,
    requested: string | undefined,
    context: RequestContext | undefined,
  ): string[] {
    if (requested === undefined || requested.trim() === '') return client.allowedScopes;
    const scopes = [...new Set(requested.split(' ').filter(Boolean))];
    if (scopes.some((scope) => !SCOPE_TOKEN.test(scope))) {
      throw new OAuthException('invalid_scope', 'The scope is malformed');
    }
    const allowed = new Set(client.allowedScopes);
    const refused = scopes.filter((scope) => !allowed.has(scope));
    if (refused.length) {
      this.deny(client.agentId, 'invalid_scope', context);
      throw new OAuthException(
        'invalid_scope',
        'The requested scope exceeds what this client may obtain',
      );
    }
    return scopes;
  }

  private deny(agentId: string, reason: string, context: RequestContext | undefined): void {
    this.audit.record({
      type: AuditEventType.TokenDenied,
      outcome: AuditOutcome.Denied,
      actorAgentId: agentId,
      targetType: 'client',
      targetId: agentId,
      details: { reason },
      context,
    });
  }
}
