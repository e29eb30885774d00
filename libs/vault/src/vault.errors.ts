/** Why a Vault call failed. Callers branch on `kind` and `status`, never on Vault's message text. */
export type VaultFailureKind =
  'unreachable' | 'timeout' | 'sealed' | 'denied' | 'not_found' | 'rejected' | 'server';

/**
 * A failed Vault call. The message names the operation and the kind only: no token, no secret, no
 * response body, so it is safe to log.
 */
export class VaultError extends Error {
  constructor(
    readonly kind: VaultFailureKind,
    readonly operation: string,
    readonly status?: number,
  ) {
    super(`Vault ${operation} failed: ${kind}${status ? ` (HTTP ${status})` : ''}`);
    this.name = 'VaultError';
  }
}
