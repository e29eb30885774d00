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
    // Failures already counted in PostgreSQL keep counting: their windows (lockouts included) are
    // copied over. Counters in Redis, and failures a replica not yet upgraded counts during a
    // rolling deploy, are seen from the agent's next failure on.
    await queryRunner.query(`
      UPDATE agents a
         SET auth_failures_until = c.window_ends_at
        FROM abuse_counters c
       WHERE c.key = 'lockout:' || a.id::text AND c.window_ends_at > now()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE agents DROP COLUMN auth_failures_until`);
  }
}
