import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Until when a failed client authentication of the agent may still count towards a lockout. The
 * token endpoint reads the agent row anyway; only while this lies in the future does it read the
 * agent's lockout counter too, so a grant by a client without recent failures costs one indexed
 * lookup and no counter read (a Redis round trip when the counters live in Redis).
 */
export class AddAgentsAuthFailuresUntil1700000000009 implements MigrationInterface {
  name = 'AddAgentsAuthFailuresUntil1700000000009';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE agents ADD COLUMN auth_failures_until timestamptz NULL`);
    // During a rolling deploy, failures counted by a replica not yet upgraded leave this unset:
    // upgraded replicas enforce only the lockouts those started once every replica runs this code.
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE agents DROP COLUMN auth_failures_until`);
  }
}
