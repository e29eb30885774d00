export * from './app-config';
export * from './config.module';
export * from './dotenv';
export * from './env.schema';
