import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@agentidp/config';
import Redis from 'ioredis';
import { AbuseStore, type WindowCount } from './abuse-store';

/** INCR, and start the window's expiry on the first event; one round trip. */
const INCREMENT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {count, ttl}`;

/** Counters in Redis (REDIS_URL), for deployments that already run it. */
@Injectable()
export class RedisAbuseStore extends AbuseStore implements OnApplicationShutdown {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(config: AppConfig) {
    super();
    this.prefix = config.abuse.redisKeyPrefix;
    this.redis = new Redis(config.abuse.redisUrl as string, {
      lazyConnect: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      commandTimeout: 1000,
      enableOfflineQueue: true,
    });
    this.redis.defineCommand('agentidpIncrement', { numberOfKeys: 1, lua: INCREMENT });
  }

  async increment(key: string, windowSeconds: number): Promise<WindowCount> {
    const run = (
      this.redis as unknown as Record<string, (...args: unknown[]) => Promise<[number, number]>>
    ).agentidpIncrement;
    const [count, ttl] = await run.call(this.redis, this.prefix + key, windowSeconds * 1000);
    return { count, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
  }

  async peek(key: string): Promise<WindowCount | null> {
    const [[, value], [, ttl]] = (await this.redis
      .multi()
      .get(this.prefix + key)
      .pttl(this.prefix + key)
      .exec()) as [[unknown, string | null], [unknown, number]];
    if (value === null || ttl <= 0) return null;
    return { count: Number(value), retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
  }

  async extend(key: string, seconds: number): Promise<void> {
    await this.redis.pexpire(this.prefix + key, seconds * 1000);
  }

  async clear(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}
