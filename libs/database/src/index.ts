export * from './data-source-options';
export * from './database.module';
export * from './embedded-postgres';
export * from './entities';
export * from './migration-runner';
export * from './server-state.entity';
