import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

@Entity({ name: 'revoked_tokens' })
@Index('idx_revoked_tokens_expires_at', ['expiresAt'])
export class RevokedToken {
  @PrimaryColumn('uuid')
  jti: string;

  @Column({ name: 'agent_id', type: 'uuid' })
  agentId: string;

  /** The token's own `exp`: once past, the row can be purged. */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', default: () => 'now()' })
  revokedAt: Date;
}
