import type { BeforeApplicationShutdown, OnModuleDestroy, OnModuleInit } from '@nestjs/common';

/**
 * A provider that buffers writes and flushes them on a timer, and once more at shutdown: after the
 * HTTP server has drained (the root module closes it in an earlier before-shutdown hook), while the
 * database pool is still open. The timer never keeps the process alive.
 */
export abstract class PeriodicFlush
  implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown
{
  private flushTimer?: NodeJS.Timeout;

  protected constructor(private readonly flushIntervalMs: number) {}

  /** Writes what is buffered. Must not reject: failures are the subclass's to log or keep. */
  abstract flush(): Promise<void>;

  onModuleInit(): void {
    this.flushTimer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.flushTimer.unref();
  }

  onModuleDestroy(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
