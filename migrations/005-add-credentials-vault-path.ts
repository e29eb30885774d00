import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The Vault runbook's migration: `credentials.vault_path`, `text`, nullable. */
export class AddCredentialsVaultPath1700000000005 implements MigrationInterface {
  name = 'AddCredentialsVaultPath1700000000005';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE credentials ADD COLUMN vault_path text NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE credentials DROP COLUMN vault_path`);
  }
}
