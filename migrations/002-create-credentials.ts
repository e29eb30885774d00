import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateCredentials1700000000002 implements MigrationInterface {
  name = 'CreateCredentials1700000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE credentials (
        id uuid PRIMARY KEY,
        agent_id uuid NOT NULL,
        status varchar(16) NOT NULL DEFAULT 'active',
        secret_hash varchar(100) NULL,
        secret_version integer NOT NULL DEFAULT 1,
        expires_at timestamptz NULL,
        last_used_at timestamptz NULL,
        rotated_at timestamptz NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT fk_credentials_agent_id FOREIGN KEY (agent_id)
          REFERENCES agents (id) ON DELETE CASCADE,
        CONSTRAINT chk_credentials_status CHECK (status IN ('active'))
      )`);
    await queryRunner.query(
      `CREATE INDEX idx_credentials_agent_id_created_at ON credentials (agent_id, created_at)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE credentials`);
  }
}
