import type { Credential, CredentialStatus } from '../credential.entity';
import type { SecretStoreKind } from '../secret-strategy';

export interface CredentialResponse {
  credentialId: string;
  agentId: string;
  /** The OAuth client_id: the agent's id. */
  clientId: string;
  status: CredentialStatus;
  storage: SecretStoreKind;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  rotatedAt: string | null;
}

/** Returned once, at creation and rotation: the only time the secret is ever shown. */
export interface CredentialWithSecretResponse extends CredentialResponse {
  clientSecret: string;
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
