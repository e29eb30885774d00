/** The outcome of counting one more event in a fixed window. */
export interface WindowCount {
  count: number;
  /** Seconds until the window (or the lockout) ends. */
  retryAfterSeconds: number;
}

/**
 * Counters shared by every replica: lockouts and rate limits. PostgreSQL by default, Redis when
 * REDIS_URL is set. Keys are namespaced by the caller (`lockout:<client>`, `rate:token:<ip>`).
 */
export abstract class AbuseStore {
  /** Adds one to `key`'s current window (a new window of `windowSeconds` starts when none is open). */
  abstract increment(key: string, windowSeconds: number): Promise<WindowCount>;

  /** The current count and time left, or null when no window is open. */
  abstract peek(key: string): Promise<WindowCount | null>;

  /** Starts a fresh window for `key` that lasts `seconds` (a lockout starts from the last failure). */
  abstract extend(key: string, seconds: number): Promise<void>;

  abstract clear(key: string): Promise<void>;
}
