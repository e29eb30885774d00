import { ApiProperty } from '@nestjs/swagger';
import { CredentialStatus, type Credential } from '../credential.entity';
import type { SecretStoreKind } from '../secret-strategy';

const SECRET_STORE_KINDS: SecretStoreKind[] = ['bcrypt', 'vault'];

export class CredentialResponse {
  @ApiProperty({ format: 'uuid' })
  credentialId: string;

  @ApiProperty({ format: 'uuid' })
  agentId: string;

  /** The OAuth client_id: the agent's id. */
  @ApiProperty({ format: 'uuid', description: "The OAuth client_id: the agent's id" })
  clientId: string;

  @ApiProperty({ enum: CredentialStatus, enumName: 'CredentialStatus' })
  status: CredentialStatus;

  @ApiProperty({ enum: SECRET_STORE_KINDS, description: 'Where the secret is kept' })
  storage: SecretStoreKind;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  expiresAt: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastUsedAt: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  rotatedAt: string | null;
}

/** Returned once, at creation and rotation: the only time the secret is ever shown. */
export class CredentialWithSecretResponse extends CredentialResponse {
  @ApiProperty({
    description:
      'The client secret (`aidp_` and 70 base64url characters). Shown only in this response: store it now.',
  })
  clientSecret: string;
}

export class CredentialList {
  @ApiProperty({ type: [CredentialResponse] })
  items: CredentialResponse[];
}

export function toCredentialResponse(credential: Credential): CredentialResponse {
  return {
    credentialId: credential.id,
    agentId: credential.agentId,
    clientId: credential.agentId,
    status: credential.status,
    storage: credential.vaultPath ? 'vault' : 'bcrypt',
    createdAt: credential.createdAt.toISOString(),
    expiresAt: credential.expiresAt?.toISOString() ?? null,
    lastUsedAt: credential.lastUsedAt?.toISOString() ?? null,
    rotatedAt: credential.rotatedAt?.toISOString() ?? null,
  };
}
