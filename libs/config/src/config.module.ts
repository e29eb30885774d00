import { Global, Module, type DynamicModule } from '@nestjs/common';
import { AppConfig } from './app-config';
import { loadDotEnv } from './dotenv';

/**
 * Provides the typed {@link AppConfig} to the whole application: the one given (the entry points
 * validate first, to fail with one clear message), or the environment (`.env` first when present).
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        config
          ? { provide: AppConfig, useValue: config }
          : {
              provide: AppConfig,
              useFactory: () => {
                loadDotEnv();
                return AppConfig.fromEnv(process.env);
              },
            },
      ],
      exports: [AppConfig],
    };
  }
}
