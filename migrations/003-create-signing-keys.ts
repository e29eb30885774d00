import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateSigningKeys1700000000003 implements MigrationInterface {
  name = 'CreateSigningKeys1700000000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE signing_keys (
        kid varchar(64) PRIMARY KEY,
        alg varchar(16) NOT NULL,
        public_jwk jsonb NOT NULL,
        private_key_encrypted bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz NULL,
        expires_at timestamptz NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX idx_signing_keys_created_at ON signing_keys (created_at DESC)`,
    );
    await queryRunner.query(`
      CREATE TABLE server_state (
        key varchar(64) PRIMARY KEY,
        value jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE server_state`);
    await queryRunner.query(`DROP TABLE signing_keys`);
  }
}
