import 'reflect-metadata';
import { AppConfig, loadDotEnv } from '@agentidp/config';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options';
import { EmbeddedPostgres } from './embedded-postgres';

/**
 * The data source the TypeORM CLI loads (`npm run db:migrate|db:revert|db:show`): DATABASE_URL, or
 * the embedded database under DATA_DIR when it is unset. Same options builder as the server.
 */
async function createCliDataSource(): Promise<DataSource> {
  loadDotEnv();
  const config = AppConfig.fromEnv(process.env);
  if (!config.embeddedDatabase) {
    return new DataSource(buildDataSourceOptions(config, config.database.url as string));
  }
  const embedded = new EmbeddedPostgres(config.database.dataDir);
  const dataSource = new DataSource(buildDataSourceOptions(config, await embedded.start()));
  const destroy = dataSource.destroy.bind(dataSource);
  dataSource.destroy = async () => {
    await destroy();
    await embedded.stop();
  };
  return dataSource;
}

export default createCliDataSource();
