import { Global, Module, type FactoryProvider } from '@nestjs/common';
import { AppConfig } from '@agentidp/config';
import { DataSource } from 'typeorm';
import { AbuseStore } from './abuse-store';
import { ClientLockoutService } from './client-lockout.service';
import { PostgresAbuseStore } from './postgres-abuse.store';
import { RateLimitGuard } from './rate-limit.guard';
import { RateLimiter } from './rate-limiter';
import { RedisAbuseStore } from './redis-abuse.store';

/** Redis when REDIS_URL is set, PostgreSQL otherwise; only the chosen store is constructed. */
const abuseStoreProvider: FactoryProvider<AbuseStore> = {
  provide: AbuseStore,
  inject: [AppConfig, DataSource],
  useFactory: (config: AppConfig, dataSource: DataSource) =>
    config.abuse.redisUrl ? new RedisAbuseStore(config) : new PostgresAbuseStore(dataSource),
};

@Global()
@Module({
  providers: [abuseStoreProvider, ClientLockoutService, RateLimiter, RateLimitGuard],
  exports: [AbuseStore, ClientLockoutService, RateLimiter, RateLimitGuard],
})
export class AbuseModule {}
