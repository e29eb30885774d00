import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import type { TokenResponse } from '../token.service';

/** OpenAPI of {@link TokenResponse}; `implements` keeps the two in step. */
@ApiSchema({ name: 'TokenResponse', description: 'RFC 6749 §5.1 access token response' })
export class TokenResponseDto implements TokenResponse {
  @ApiProperty({ description: 'An ES256-signed JWT (RFC 9068 profile)' })
  access_token: string;

  @ApiProperty({ enum: ['Bearer'] })
  token_type: 'Bearer';

  @ApiProperty({ type: 'integer', description: 'Lifetime in seconds', example: 3600 })
  expires_in: number;

  @ApiPropertyOptional({
    description: 'The granted scopes, space-separated; absent when none',
    example: 'invoices:read',
  })
  scope?: string;
}

/**
 * OpenAPI of `IntrospectionResponse` (RFC 7662 §2.2). Inactive tokens answer `{"active": false}`
 * only; the other members are present for active tokens.
 */
@ApiSchema({
  name: 'IntrospectionResponse',
  description:
    'RFC 7662 §2.2. An inactive, unknown or foreign token answers {"active": false} and nothing else.',
})
export class IntrospectionResponseDto {
  @ApiProperty()
  active: boolean;

  @ApiPropertyOptional({ description: 'Space-separated scopes', example: 'invoices:read' })
  scope?: string;

  @ApiPropertyOptional({ format: 'uuid' })
  client_id?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The agent id' })
  sub?: string;

  @ApiPropertyOptional()
  aud?: string;

  @ApiPropertyOptional()
  iss?: string;

  @ApiPropertyOptional({ type: 'integer', description: 'Expiry, seconds since the epoch' })
  exp?: number;

  @ApiPropertyOptional({ type: 'integer', description: 'Issued at, seconds since the epoch' })
  iat?: number;

  @ApiPropertyOptional()
  jti?: string;

  @ApiPropertyOptional({ enum: ['Bearer'] })
  token_type?: 'Bearer';
}

/** RFC 7009 §2.2: an empty JSON object, whether or not the token was known. */
@ApiSchema({
  name: 'RevocationResponse',
  description:
    'Always an empty object (RFC 7009 §2.2: unknown or invalid tokens are answered 200 too)',
})
export class RevocationResponseDto {}
