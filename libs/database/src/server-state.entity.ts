import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Small facts the replicas agree on through the database (e.g. that the admin was bootstrapped). */
@Entity({ name: 'server_state' })
export class ServerState {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  key: string;

  @Column({ type: 'jsonb' })
  value: Record<string, unknown>;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
