import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export enum CredentialStatus {
  Active = 'active',
}

@Entity({ name: 'credentials' })
@Index('idx_credentials_agent_id_created_at', ['agentId', 'createdAt'])
export class Credential {
  @PrimaryColumn('uuid')
  id: string;

  /** The owning agent (FK with ON DELETE CASCADE in migration 002); the agent id is the client_id. */
  @Column({ name: 'agent_id', type: 'uuid' })
  agentId: string;

  @Column({ type: 'varchar', length: 16, default: CredentialStatus.Active })
  status: CredentialStatus;

  /** bcrypt hash; null once the secret lives in Vault. Only the verification path selects it. */
  @Column({ name: 'secret_hash', type: 'varchar', length: 100, nullable: true, select: false })
  secretHash: string | null;

  /** Grows by one at every rotation; binds tokens and cached verifications to one secret. */
  @Column({ name: 'secret_version', type: 'integer', default: 1 })
  secretVersion: number;

  /** Vault KV v2 path (`{mount}/data/agentidp/agents/{agentId}/credentials/{id}`), null for bcrypt. */
  @Column({ name: 'vault_path', type: 'text', nullable: true })
  vaultPath: string | null;

  /** The KV version holding the current secret; the database, not Vault, says which one is current. */
  @Column({ name: 'vault_version', type: 'integer', nullable: true })
  vaultVersion: number | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true })
  rotatedAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
