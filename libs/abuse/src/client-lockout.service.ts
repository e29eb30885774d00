import { Injectable } from '@nestjs/common';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import { AppConfig } from '@agentidp/config';
import type { RequestContext } from '@agentidp/common';
import { AbuseStore } from './abuse-store';

/** The counter key of a client's failed authentications. */
export const lockoutKey = (clientId: string) => `lockout:${clientId.toLowerCase().slice(0, 64)}`;
const key = lockoutKey;

export interface RecordedFailure {
  /** Seconds the client is locked out from now (0 if not). */
  lockedForSeconds: number;
  /** The client was locked out before this failure. */
  wasLockedOut: boolean;
}

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

  /** Seconds a failure stays counted: a lockout can only start or last within this long of one. */
  get windowSeconds(): number {
    return this.config.abuse.lockoutWindowSeconds;
  }

  /** Seconds the client remains locked out (0 if not), and the failures counted so far. */
  async status(clientId: string): Promise<{ lockedForSeconds: number; failures: number }> {
    if (!this.enabled) return { lockedForSeconds: 0, failures: 0 };
    const current = await this.store.peek(key(clientId));
    if (!current) return { lockedForSeconds: 0, failures: 0 };
    const locked = current.count >= this.config.abuse.lockoutMaxFailures;
    return { lockedForSeconds: locked ? current.retryAfterSeconds : 0, failures: current.count };
  }

  /**
   * Counts a failure. Answers the lockout in seconds when this failure started or extended one, and
   * whether the client was locked out already (a caller that did not read {@link status} first
   * refuses it as locked out).
   */
  async recordFailure(clientId: string, context?: RequestContext): Promise<RecordedFailure> {
    if (!this.enabled) return { lockedForSeconds: 0, wasLockedOut: false };
    const max = this.config.abuse.lockoutMaxFailures;
    const window = this.config.abuse.lockoutWindowSeconds;
    const result = await this.store.increment(key(clientId), window);
    if (result.count < max) return { lockedForSeconds: 0, wasLockedOut: false };
    if (result.count === max) {
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
      return { lockedForSeconds: window, wasLockedOut: false };
    }
    return { lockedForSeconds: result.retryAfterSeconds, wasLockedOut: true };
  }

  /** A success forgets earlier failures; callers only call it when some were counted. */
  async recordSuccess(clientId: string): Promise<void> {
    if (!this.enabled) return;
    await this.store.clear(key(clientId));
  }
}
