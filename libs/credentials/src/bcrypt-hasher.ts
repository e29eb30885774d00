import { Injectable } from '@nestjs/common';
import { AppConfig } from '@agentidp/config';
import { Metrics } from '@agentidp/metrics';
import * as bcrypt from 'bcrypt';

/**
 * bcrypt behind a small semaphore. bcrypt's async calls already run on libuv's thread pool (off the
 * event loop); the bound keeps a flood of wrong secrets from filling that pool, which file system
 * and DNS work share, so cached verifications never queue behind it.
 */
@Injectable()
export class BcryptHasher {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    metrics.gauge(
      'agentidp_bcrypt_queue_length',
      'bcrypt verifications waiting for a slot',
      () => this.waiting.length,
    );
  }

  hash(secret: string): Promise<string> {
    return this.limited(() => bcrypt.hash(secret, this.config.secrets.bcryptCost));
  }

  compare(secret: string, hash: string): Promise<boolean> {
    return this.limited(() => bcrypt.compare(secret, hash));
  }

  /** How many verifications wait for a slot (exposed as a metric). */
  get queued(): number {
    return this.waiting.length;
  }

  private async limited<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.config.secrets.bcryptConcurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}
