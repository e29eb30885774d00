import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Lockout and rate-limit counters shared by every replica when Redis is not configured. */
export class CreateAbuseCounters1700000000007 implements MigrationInterface {
  name = 'CreateAbuseCounters1700000000007';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE abuse_counters (
        key varchar(200) PRIMARY KEY,
        count integer NOT NULL,
        window_ends_at timestamptz NOT NULL
      )`);
    await queryRunner.query(
      `CREATE INDEX idx_abuse_counters_window_ends_at ON abuse_counters (window_ends_at)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE abuse_counters`);
  }
}
