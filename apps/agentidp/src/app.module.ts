import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { AgentsModule } from '@agentidp/agents';
import { AuditModule } from '@agentidp/audit';
import { BearerAuthGuard } from '@agentidp/auth';
import { RequestContextInterceptor } from '@agentidp/common';
import { ConfigModule, type AppConfig } from '@agentidp/config';
import { CredentialsModule } from '@agentidp/credentials';
import { DatabaseModule } from '@agentidp/database';
import { HealthModule } from '@agentidp/health';
import { TokenModule } from '@agentidp/token';

/** Wiring only: which modules make up the server. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule,
        AuditModule,
        CredentialsModule.forRoot(),
        AgentsModule,
        TokenModule,
        HealthModule.forRoot(),
      ],
      providers: [
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: APP_INTERCEPTOR, useClass: RequestContextInterceptor },
      ],
    };
  }
}
