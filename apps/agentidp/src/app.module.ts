import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AbuseModule, RateLimitGuard } from '@agentidp/abuse';
import { AgentsModule } from '@agentidp/agents';
import { AuditModule } from '@agentidp/audit';
import { BearerAuthGuard } from '@agentidp/auth';
import { ConfigModule, type AppConfig } from '@agentidp/config';
import { CredentialsModule } from '@agentidp/credentials';
import { DatabaseModule } from '@agentidp/database';
import { HealthModule } from '@agentidp/health';
import { MetricsModule } from '@agentidp/metrics';
import { TokenModule } from '@agentidp/token';
import { GracefulShutdown } from './graceful-shutdown';
import { VaultModule, VaultReadinessCheck, VaultSecretStrategy } from '@agentidp/vault';

/** Wiring only: which modules make up the server. Vault's are there only when VAULT_ADDR is set. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        DatabaseModule,
        AuditModule,
        AbuseModule,
        ...(config.vault ? [VaultModule.forRoot({ ...config.vault, isGlobal: true })] : []),
        CredentialsModule.forRoot({
          vaultStrategy: config.vault ? VaultSecretStrategy : undefined,
        }),
        AgentsModule,
        TokenModule,
        HealthModule.forRoot({ readiness: config.vault ? VaultReadinessCheck : undefined }),
      ],
      providers: [
        // Rate limits first: a refused request costs no token verification.
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        GracefulShutdown,
      ],
    };
  }
}
