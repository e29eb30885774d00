import { AppConfig } from '@agentidp/config';
import { buildDataSourceOptions, EmbeddedPostgres } from '@agentidp/database';
import { DataSource } from 'typeorm';
import { migrations } from '../migrations';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const TABLES = [
  'agents',
  'credentials',
  'signing_keys',
  'server_state',
  'revoked_tokens',
  'audit_events',
  'abuse_counters',
];

describe('migrations', () => {
  let database: TestDatabase;
  let embedded: EmbeddedPostgres | undefined;
  let dataSource: DataSource;

  const tables = async () =>
    (
      await dataSource.query<{ table_name: string }[]>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'`,
      )
    )
      .map((row) => row.table_name)
      .sort();

  beforeAll(async () => {
    database = await createTestDatabase();
    const config = AppConfig.fromEnv({ ...database.env, NODE_ENV: 'test' });
    let url = database.databaseUrl;
    if (!url) {
      embedded = new EmbeddedPostgres(database.dataDir);
      url = await embedded.start();
    }
    dataSource = await new DataSource(buildDataSourceOptions(config, url)).initialize();
  });

  afterAll(async () => {
    await dataSource.destroy();
    await embedded?.stop();
    await database.drop();
  });

  it('applies every migration in order, each reverts with its down, and they apply again', async () => {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    expect(applied.map((migration) => migration.name)).toEqual(
      migrations.map((migration) => migration.name),
    );
    expect(await tables()).toEqual([...TABLES].sort());

    const vaultPath = await dataSource.query<{ data_type: string; is_nullable: string }[]>(
      `SELECT data_type, is_nullable FROM information_schema.columns
        WHERE table_name = 'credentials' AND column_name = 'vault_path'`,
    );
    expect(vaultPath).toEqual([{ data_type: 'text', is_nullable: 'YES' }]);

    for (let i = 0; i < migrations.length; i += 1)
      await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await tables()).toEqual([]);
    expect(await dataSource.showMigrations()).toBe(true);

    await dataSource.runMigrations({ transaction: 'each' });
    expect(await dataSource.showMigrations()).toBe(false);
  });

  it('009 carries lockout windows already counted in PostgreSQL over to the agents', async () => {
    await dataSource.runMigrations({ transaction: 'each' });
    await dataSource.undoLastMigration({ transaction: 'each' });
    const [counting, expired, clean] = [
      '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a51',
      '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a52',
      '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a53',
    ];
    for (const id of [counting, expired, clean]) {
      await dataSource.query(`INSERT INTO agents (id, name) VALUES ($1, 'migration-009')`, [id]);
    }
    await dataSource.query(
      `INSERT INTO abuse_counters (key, count, window_ends_at) VALUES
         ($1, 5, now() + interval '10 minutes'), ($2, 2, now() - interval '1 minute')`,
      [`lockout:${counting}`, `lockout:${expired}`],
    );

    await dataSource.runMigrations({ transaction: 'each' });

    const rows = await dataSource.query<{ id: string; recent: boolean | null }[]>(
      `SELECT id, auth_failures_until > now() AS recent FROM agents ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: counting, recent: true },
      { id: expired, recent: null },
      { id: clean, recent: null },
    ]);
  });

  it('numbers migration files 001, 002, … in the order TypeORM runs them', () => {
    const names = migrations.map((migration) => migration.name);
    const timestamps = names.map((name) => Number(/(\d{13})$/.exec(name)?.[1]));
    expect([...timestamps].sort((a, b) => a - b)).toEqual(timestamps);
    timestamps.forEach((timestamp, index) => expect(timestamp % 1000).toBe(index + 1));
  });
});
