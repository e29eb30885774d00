import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateAgents1700000000001 implements MigrationInterface {
  name = 'CreateAgents1700000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE agents (
        id uuid PRIMARY KEY,
        name varchar(200) NOT NULL,
        description text NULL,
        owner varchar(320) NULL,
        status varchar(16) NOT NULL DEFAULT 'active',
        allowed_scopes text[] NOT NULL DEFAULT '{}',
        metadata jsonb NOT NULL DEFAULT '{}',
        tokens_revoked_before timestamptz NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT chk_agents_status CHECK (status IN ('active', 'suspended'))
      )`);
    await queryRunner.query(`CREATE INDEX idx_agents_created_at_id ON agents (created_at, id)`);
    await queryRunner.query(
      `CREATE INDEX idx_agents_status_created_at_id ON agents (status, created_at, id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE agents`);
  }
}
