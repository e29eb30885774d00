import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestContextData {
  requestId: string;
  clientIp: string;
}

const storage = new AsyncLocalStorage<RequestContextData>();

/** The current request's id and client address, for audit events and log lines deep in services. */
export const RequestContext = {
  current(): RequestContextData | undefined {
    return storage.getStore();
  },
  run<T>(data: RequestContextData, fn: () => T): T {
    return storage.run(data, fn);
  },
  /**
   * Binds `data` to the rest of the current request's execution (Fastify's `onRequest` hook: guards,
   * pipes, handlers and filters all continue from it).
   */
  enter(data: RequestContextData): void {
    storage.enterWith(data);
  },
};
