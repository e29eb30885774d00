import { Injectable } from '@nestjs/common';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import { AppConfig } from '@agentidp/config';
import type { RequestContext } from '@agentidp/common';
import { AbuseStore } from './abuse-store';
import { PostgresAbuseStore } from './postgres-abuse.store';

/** The counter key of a client's failed authentications. */
export const lockoutKey = (clientId: string) => `lockout:${clientId.toLowerCase().slice(0, 64)}`;
const key = lockoutKey;

/**
 * Locks a client out after LOCKOUT_MAX_FAILURES failed authentications within
 * LOCKOUT_WINDOW_SECONDS (like Vault AppRole: 5 in 15 minutes). While locked out even the right
 * secret is refused, before any bcrypt or Vault work. Counters are shared by every replica.
 */
@Injectable()
export class ClientLockoutService {
  constructor(
    private readonly store: AbuseStore,
    private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  get enabled(): boolean {
    return this.config.abuse.lockoutMaxFailures > 0;
  }

  /**
   * True when the counters live in PostgreSQL's `abuse_counters`: the token endpoint then reads the
   * lockout in the same query as the credential, saving a round trip on the hot path.
   */
  get readableInDatabase(): boolean {
    return this.enabled && this.store instanceof PostgresAbuseStore;
  }

  /** Interprets a counter row read elsewhere (see {@link readableInDatabase}). */
  interpret(
    failures: number | null,
    retryAfterSeconds: number | null,
  ): { lockedForSeconds: number; failures: number } {
    if (!failures) return { lockedForSeconds: 0, failures: 0 };
    const locked = failures >= this.config.abuse.lockoutMaxFailures;
    return { lockedForSeconds: locked ? Math.max(1, retryAfterSeconds ?? 1) : 0, failures };
  }

  /** Seconds the client remains locked out (0 if not), and the failures counted so far. */
  async status(clientId: string): Promise<{ lockedForSeconds: number; failures: number }> {
    if (!this.enabled) return { lockedForSeconds: 0, failures: 0 };
    const current = await this.store.peek(key(clientId));
    if (!current) return { lockedForSeconds: 0, failures: 0 };
    const locked = current.count >= this.config.abuse.lockoutMaxFailures;
    return { lockedForSeconds: locked ? current.retryAfterSeconds : 0, failures: current.count };
  }

  /** Counts a failure; returns the lockout in seconds when this failure triggered or extended one. */
  async recordFailure(clientId: string, context?: RequestContext): Promise<number> {
    if (!this.enabled) return 0;
    const window = this.config.abuse.lockoutWindowSeconds;
    const result = await this.store.increment(key(clientId), window);
    if (result.count < this.config.abuse.lockoutMaxFailures) return 0;
    if (result.count === this.config.abuse.lockoutMaxFailures) {
      // The lockout lasts a full window from the failure that triggered it.
      await this.store.extend(key(clientId), window);
      this.audit.record({
        type: AuditEventType.ClientLockedOut,
        outcome: AuditOutcome.Denied,
        targetType: 'client',
        targetId: clientId.slice(0, 64),
        details: { failures: result.count, lockoutSeconds: window },
        context,
      });
      return window;
    }
    return result.retryAfterSeconds;
  }

  /** A success forgets earlier failures; callers only call it when some were counted. */
  async recordSuccess(clientId: string): Promise<void> {
    if (!this.enabled) return;
    await this.store.clear(key(clientId));
  }
}
