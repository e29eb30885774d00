import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

/**
 * OpenAPI of the OAuth request bodies. Documentation only: the endpoints read their parameters
 * themselves (`readParams`), as RFC 6749 wants unknown parameters ignored, not refused.
 */
export class ClientAuthenticationFields {
  @ApiPropertyOptional({
    format: 'uuid',
    description:
      'client_secret_post: the client id (the agent id). Send either these two fields or HTTP Basic (client_secret_basic), never both.',
  })
  client_id?: string;

  @ApiPropertyOptional({
    format: 'password',
    description: 'client_secret_post: the client secret',
  })
  client_secret?: string;
}

@ApiSchema({ name: 'TokenRequest', description: 'RFC 6749 §4.4.2 access token request' })
export class TokenRequestDto extends ClientAuthenticationFields {
  @ApiProperty({ enum: ['client_credentials'], description: 'Only client_credentials' })
  grant_type: 'client_credentials';

  @ApiPropertyOptional({
    description:
      'Space-separated scopes, each allowed to the client; without it, every allowed scope is granted',
    example: 'invoices:read',
  })
  scope?: string;
}

@ApiSchema({ name: 'IntrospectionRequest', description: 'RFC 7662 §2.1 introspection request' })
export class IntrospectionRequestDto extends ClientAuthenticationFields {
  @ApiProperty({ description: 'The access token to introspect' })
  token: string;

  @ApiPropertyOptional({ description: 'Accepted and ignored', example: 'access_token' })
  token_type_hint?: string;
}

@ApiSchema({ name: 'RevocationRequest', description: 'RFC 7009 §2.1 revocation request' })
export class RevocationRequestDto extends ClientAuthenticationFields {
  @ApiProperty({ description: 'The access token to revoke' })
  token: string;

  @ApiPropertyOptional({ description: 'Accepted and ignored', example: 'access_token' })
  token_type_hint?: string;
}
