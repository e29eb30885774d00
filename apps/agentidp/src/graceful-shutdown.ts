import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/**
 * Drains HTTP first. Nest would close the server only after every `beforeApplicationShutdown`
 * hook; closing it here (the root module's hook runs before the global modules') lets in-flight
 * requests finish while the database is still open, so the audit flush that follows sees their
 * events. Closing again later is a no-op.
 */
@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  async beforeApplicationShutdown(): Promise<void> {
    const adapter = this.adapterHost.httpAdapter as { close(): Promise<unknown> } | undefined;
    await adapter?.close();
  }
}
