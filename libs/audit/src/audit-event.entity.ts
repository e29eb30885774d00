import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export enum AuditOutcome {
  Success = 'success',
  Failure = 'failure',
  Denied = 'denied',
}

/**
 * One append-only, hash-chained audit record. `hash` = SHA-256 over `prevHash` and the canonical
 * form of this row, so altering or removing any row breaks every link after it.
 */
@Entity({ name: 'audit_events' })
@Index('idx_audit_events_actor_id', ['actorAgentId', 'id'])
@Index('idx_audit_events_type_id', ['type', 'id'])
@Index('idx_audit_events_occurred_at', ['occurredAt'])
export class AuditEvent {
  @PrimaryColumn({ type: 'bigint' })
  id: string;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt: Date;

  @Column({ type: 'varchar', length: 64 })
  type: string;

  @Column({ type: 'varchar', length: 16 })
  outcome: AuditOutcome;

  @Column({ name: 'actor_agent_id', type: 'uuid', nullable: true })
  actorAgentId: string | null;

  @Column({ name: 'target_type', type: 'varchar', length: 32, nullable: true })
  targetType: string | null;

  @Column({ name: 'target_id', type: 'varchar', length: 64, nullable: true })
  targetId: string | null;

  @Column({ name: 'request_id', type: 'varchar', length: 128, nullable: true })
  requestId: string | null;

  @Column({ name: 'client_ip', type: 'varchar', length: 64, nullable: true })
  clientIp: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  details: Record<string, unknown>;

  @Column({ name: 'prev_hash', type: 'char', length: 64 })
  prevHash: string;

  @Column({ type: 'char', length: 64 })
  hash: string;
}
