import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateRevokedTokensAndAuditEvents1700000000004 implements MigrationInterface {
  name = 'CreateRevokedTokensAndAuditEvents1700000000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE revoked_tokens (
        jti uuid PRIMARY KEY,
        agent_id uuid NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX idx_revoked_tokens_expires_at ON revoked_tokens (expires_at)`,
    );

    await queryRunner.query(`
      CREATE TABLE audit_events (
        id bigint PRIMARY KEY,
        occurred_at timestamptz NOT NULL,
        type varchar(64) NOT NULL,
        outcome varchar(16) NOT NULL,
        actor_agent_id uuid NULL,
        target_type varchar(32) NULL,
        target_id varchar(64) NULL,
        request_id varchar(128) NULL,
        client_ip varchar(64) NULL,
        details jsonb NOT NULL DEFAULT '{}',
        prev_hash char(64) NOT NULL,
        hash char(64) NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX idx_audit_events_actor_id ON audit_events (actor_agent_id, id)`,
    );
    await queryRunner.query(`CREATE INDEX idx_audit_events_type_id ON audit_events (type, id)`);
    await queryRunner.query(
      `CREATE INDEX idx_audit_events_occurred_at ON audit_events (occurred_at)`,
    );
    // Append-only: the application role can insert, never change or remove a row.
    await queryRunner.query(`
      CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
      BEGIN
        RAISE EXCEPTION 'audit_events is append-only';
      END;
      $$ LANGUAGE plpgsql`);
    await queryRunner.query(`
      CREATE TRIGGER trg_audit_events_append_only
        BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE audit_events`);
    await queryRunner.query(`DROP FUNCTION audit_events_append_only()`);
    await queryRunner.query(`DROP TABLE revoked_tokens`);
  }
}
