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
    // Tokens without a generation (issued before this, or by a replica not yet upgraded during a
    // rolling deploy) keep being checked against tokens_revoked_before, which suspension still sets.
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE agents DROP COLUMN token_generation`);
  }
}
