import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A counter bumped by every suspension; access tokens carry the value they were issued under and
 * stay active only while it is unchanged. It replaces comparing `iat` (whole seconds, from the
 * issuing replica's clock) with `tokens_revoked_before` (the suspending replica's clock), which
 * killed tokens issued in the second of a suspension, even after reactivation.
 */
export class AddAgentsTokenGeneration1700000000008 implements MigrationInterface {
  name = 'AddAgentsTokenGeneration1700000000008';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE agents ADD COLUMN token_generation integer NOT NULL DEFAULT 0`,
    );
    // Tokens issued before this migration carry no generation (read as 0): those of an agent that
    // was ever suspended end now rather than outlive the suspension.
    await queryRunner.query(
      `UPDATE agents SET token_generation = 1 WHERE tokens_revoked_before IS NOT NULL`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE agents DROP COLUMN token_generation`);
  }
}
