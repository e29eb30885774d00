import { Global, Module } from '@nestjs/common';
import { AppConfig } from './app-config';
import { loadDotEnv } from './dotenv';

/**
 * Provides the typed {@link AppConfig} to the whole application. `.env` is read first when present
 * (real environment variables win), then everything is validated once.
 */
@Global()
@Module({
  providers: [
    {
      provide: AppConfig,
      useFactory: () => {
        loadDotEnv();
        return AppConfig.fromEnv(process.env);
      },
    },
  ],
  exports: [AppConfig],
})
export class ConfigModule {}
