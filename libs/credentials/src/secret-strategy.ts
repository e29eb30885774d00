import type { RequestContext } from '@agentidp/common';

/** Where one credential's secret lives; what a strategy needs to verify, replace or remove it. */
export interface SecretRef {
  credentialId: string;
  agentId: string;
  secretHash: string | null;
  vaultPath: string | null;
  vaultVersion: number | null;
}

/** What a strategy stored; written to the credential row as is. */
export interface StoredSecret {
  secretHash: string | null;
  vaultPath: string | null;
  vaultVersion: number | null;
}

export type SecretStoreKind = 'bcrypt' | 'vault';

/**
 * Thrown by {@link SecretStrategy.verify} when the row points at a secret the store no longer holds.
 * A concurrent delete or rotation explains that; the caller re-reads the row to tell the two apart.
 */
export class SecretMissingError extends Error {
  constructor(readonly credentialId: string) {
    super(`The stored secret of credential ${credentialId} is missing`);
    this.name = SecretMissingError.name;
  }
}

/**
 * The secret store, chosen once by configuration (see `secretStrategyProvider`). New and rotated
 * secrets go where the strategy puts them; verification and removal follow what each row points
 * at, so credentials of both kinds keep working side by side. `context`, where given, is the
 * request the call serves: a strategy that reports its own failures (audit events, log lines)
 * ties them to it.
 */
export abstract class SecretStrategy {
  abstract readonly kind: SecretStoreKind;

  /** Stores the secret of a new credential. */
  abstract store(
    ref: Pick<SecretRef, 'credentialId' | 'agentId'>,
    secret: string,
    context?: RequestContext,
  ): Promise<StoredSecret>;

  /** Stores a rotated secret for an existing credential (its row is locked by the caller). */
  abstract replace(
    current: SecretRef,
    secret: string,
    context?: RequestContext,
  ): Promise<StoredSecret>;

  /**
   * True when `presented` is the credential's current secret. Constant-time where it compares.
   * Throws {@link SecretMissingError} when the secret the row points at is gone from the store.
   */
  abstract verify(
    current: SecretRef,
    presented: string,
    context?: RequestContext,
  ): Promise<boolean>;

  /** Removes every stored copy of the secret, for good. */
  abstract remove(current: SecretRef, context?: RequestContext): Promise<void>;

  /** Undoes a {@link store} whose row could not be saved, so no orphan secret is left behind. */
  abstract discard(
    ref: Pick<SecretRef, 'credentialId' | 'agentId'>,
    stored: StoredSecret,
    context?: RequestContext,
  ): Promise<void>;

  /**
   * The error for a {@link SecretMissingError} that no concurrent change explains: the row still
   * points at a secret the store lost. The strategy reports it (log, audit) in its own terms.
   */
  lost(current: SecretRef, _context?: RequestContext): Error {
    return new SecretMissingError(current.credentialId);
  }

  /**
   * Called after a successful verification; the Vault strategy uses it to move a bcrypt-backed
   * credential into Vault with the secret just presented. Returns the new storage, or null.
   */
  async afterVerified(
    _current: SecretRef,
    _presented: string,
    _context?: RequestContext,
  ): Promise<StoredSecret | null> {
    return null;
  }
}
