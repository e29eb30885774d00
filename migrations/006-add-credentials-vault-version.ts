import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Records which KV v2 version holds the current secret, so every replica agrees after a rotation. */
export class AddCredentialsVaultVersion1700000000006 implements MigrationInterface {
  name = 'AddCredentialsVaultVersion1700000000006';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE credentials ADD COLUMN vault_version integer NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE credentials DROP COLUMN vault_version`);
  }
}
