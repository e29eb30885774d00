import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { PublicJwk } from '../signing-keys.service';

/** One public signing key (RFC 7517); `implements` keeps it in step with the service's type. */
@ApiSchema({ name: 'PublicJwk', description: 'An ES256 public signing key (RFC 7517, RFC 7518)' })
export class PublicJwkDto implements PublicJwk {
  @ApiProperty({ enum: ['EC'] })
  kty: string;

  @ApiProperty({ enum: ['P-256'] })
  crv: string;

  @ApiProperty({ description: 'base64url' })
  x: string;

  @ApiProperty({ description: 'base64url' })
  y: string;

  @ApiProperty({ description: 'Key id, as in the JWT header' })
  kid: string;

  @ApiProperty({ enum: ['sig'] })
  use: 'sig';

  @ApiProperty({ enum: ['ES256'] })
  alg: 'ES256';
}

@ApiSchema({ name: 'JsonWebKeySet', description: 'RFC 7517 §5 key set' })
export class JwksDto {
  @ApiProperty({ type: [PublicJwkDto] })
  keys: PublicJwkDto[];
}

/** RFC 8414 §2 authorization server metadata, as this server publishes it. */
@ApiSchema({ name: 'AuthorizationServerMetadata' })
export class AuthorizationServerMetadataDto {
  @ApiProperty({ format: 'uri', example: 'https://idp.example.com' })
  issuer: string;

  @ApiProperty({ format: 'uri' })
  token_endpoint: string;

  @ApiProperty({ format: 'uri' })
  jwks_uri: string;

  @ApiProperty({ format: 'uri' })
  introspection_endpoint: string;

  @ApiProperty({ format: 'uri' })
  revocation_endpoint: string;

  @ApiProperty({ type: [String], example: ['client_credentials'] })
  grant_types_supported: string[];

  @ApiProperty({ type: [String], example: [] })
  response_types_supported: string[];

  @ApiProperty({ type: [String], example: ['client_secret_basic', 'client_secret_post'] })
  token_endpoint_auth_methods_supported: string[];

  @ApiProperty({ type: [String], example: ['client_secret_basic', 'client_secret_post'] })
  introspection_endpoint_auth_methods_supported: string[];

  @ApiProperty({ type: [String], example: ['client_secret_basic', 'client_secret_post'] })
  revocation_endpoint_auth_methods_supported: string[];

  @ApiProperty({ type: [String], description: 'The management scopes' })
  scopes_supported: string[];

  @ApiProperty({ format: 'uri' })
  service_documentation: string;
}
