import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export enum AgentStatus {
  Active = 'active',
  Suspended = 'suspended',
}

@Entity({ name: 'agents' })
@Index('idx_agents_created_at_id', ['createdAt', 'id'])
export class Agent {
  @PrimaryColumn('uuid')
  id: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ type: 'varchar', length: 320, nullable: true })
  owner: string | null;

  @Column({ type: 'varchar', length: 16, default: AgentStatus.Active })
  status: AgentStatus;

  @Column({ name: 'allowed_scopes', type: 'text', array: true, default: () => "'{}'" })
  allowedScopes: string[];

  @Column({ type: 'jsonb', default: () => "'{}'" })
  metadata: Record<string, unknown>;

  /** When the agent was last suspended (which ended every token issued until then). */
  @Column({ name: 'tokens_revoked_before', type: 'timestamptz', nullable: true })
  tokensRevokedBefore: Date | null;

  /**
   * Bumped by every suspension: the per-agent kill switch. Access tokens carry the generation they
   * were issued under (claim `gen`) and are active only while it is current.
   */
  @Column({ name: 'token_generation', type: 'integer', default: 0 })
  tokenGeneration: number;

  /**
   * Until when a failed client authentication of the agent may still count towards a lockout: the
   * token endpoint reads the lockout counter only before then. Internal; never part of the API.
   */
  @Column({ name: 'auth_failures_until', type: 'timestamptz', nullable: true, select: false })
  authFailuresUntil?: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
