import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ClientLockoutService, lockoutKey } from '@agentidp/abuse';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import {
  isUuid,
  PeriodicFlush,
  preparedQuery,
  requestLogMessage,
  type RequestContext,
} from '@agentidp/common';
import { Metrics } from '@agentidp/metrics';
import { DataSource } from 'typeorm';
import { bootstrapCredentialId, credentialIdFromSecret } from './client-secret';
import { SecretMissingError, SecretStrategy, type SecretRef } from './secret-strategy';
import { VerifiedSecretCache } from './verified-secret-cache';

/** The client a token request authenticated as, with what issuing a token needs to know. */
export interface AuthenticatedClient {
  agentId: string;
  credentialId: string;
  secretVersion: number;
  /** The agent's token generation: tokens issued now carry it (see AccessTokenService). */
  tokenGeneration: number;
  agentActive: boolean;
  allowedScopes: string[];
}

export type AuthenticationResult =
  | { ok: true; client: AuthenticatedClient }
  | {
      ok: false;
      reason: 'unknown_client' | 'wrong_secret' | 'expired_credential';
      lockedForSeconds: number;
    }
  | { ok: false; reason: 'locked_out'; lockedForSeconds: number };

/** The row the hot-path lookup returns: a credential joined to its agent. */
export interface AuthRow {
  id: string;
  agent_id: string;
  secret_hash: string | null;
  secret_version: number;
  vault_path: string | null;
  vault_version: number | null;
  expires_at: Date | null;
  agent_status: string;
  token_generation: number;
  allowed_scopes: string[];
}

/** One indexed lookup by primary key: the credential named by the secret, joined to its agent. */
const LOOKUP_SQL = `
  SELECT c.id, c.agent_id, c.secret_hash, c.secret_version, c.vault_path, c.vault_version,
         c.expires_at, a.status AS agent_status, a.token_generation, a.allowed_scopes
    FROM credentials c
    JOIN agents a ON a.id = c.agent_id
   WHERE c.id = $1`;

/**
 * The same, with the client's lockout counter, in one row whether or not the credential exists: an
 * unknown client is locked out like a known one without a second query.
 */
const LOOKUP_WITH_LOCKOUT_SQL = `
  SELECT c.id, c.agent_id, c.secret_hash, c.secret_version, c.vault_path, c.vault_version,
         c.expires_at, a.status AS agent_status, a.token_generation, a.allowed_scopes,
         l.count AS failures, CEIL(EXTRACT(EPOCH FROM (l.window_ends_at - now())))::int AS lock_retry
    FROM (VALUES (1)) AS one (x)
    LEFT JOIN (credentials c JOIN agents a ON a.id = c.agent_id) ON c.id = $1
    LEFT JOIN abuse_counters l ON l.key = $2 AND l.window_ends_at > now()`;

const LAST_USED_INTERVAL_MS = 60_000;
const LAST_USED_FLUSH_MS = 1_000;
const TOUCH_SQL = `UPDATE credentials SET last_used_at = now() WHERE id = ANY($1::uuid[])`;

/**
 * Checks a client_id/client_secret pair: the token endpoint's hot path. It costs one row lookup and
 * one secret check whatever the number of credentials (the secret names its credential); a warm
 * secret is checked against {@link VerifiedSecretCache} instead of bcrypt or Vault.
 */
@Injectable()
export class ClientAuthenticator extends PeriodicFlush {
  private readonly logger = new Logger(ClientAuthenticator.name);
  private readonly lastUsedWritten = new Map<string, number>();
  /** Credentials whose `last_used_at` is due, written together (one statement a second). */
  private touched = new Set<string>();
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly secrets: SecretStrategy,
    private readonly cache: VerifiedSecretCache,
    private readonly audit: AuditService,
    private readonly lockout: ClientLockoutService,
    private readonly metrics: Metrics,
  ) {
    super(LAST_USED_FLUSH_MS);
  }

  /** `context`: the request authenticating, for the audit events and log lines this causes. */
  authenticate(
    clientId: string,
    secret: string,
    context?: RequestContext,
  ): Promise<AuthenticationResult> {
    return this.attempt(clientId, secret, context, true);
  }

  private async attempt(
    clientId: string,
    secret: string,
    context: RequestContext | undefined,
    first: boolean,
  ): Promise<AuthenticationResult> {
    if (!isUuid(clientId) || secret.length === 0 || secret.length > 512) {
      return { ok: false, reason: 'unknown_client', lockedForSeconds: 0 };
    }
    const agentId = clientId.toLowerCase();
    const credentialId = credentialIdFromSecret(secret) ?? bootstrapCredentialId(agentId);
    // The lockout is read with the credential (one query) when its counters live in PostgreSQL,
    // beside it otherwise; either way a locked-out client costs no secret check.
    const [rows, lockout] = this.lockout.readableInDatabase
      ? await this.lookupWithLockout(credentialId, agentId)
      : await Promise.all([
          preparedQuery<AuthRow>(this.dataSource, 'agentidp_auth_lookup', LOOKUP_SQL, [
            credentialId,
          ]),
          this.lockout.status(agentId),
        ]);
    if (lockout.lockedForSeconds > 0) {
      return { ok: false, reason: 'locked_out', lockedForSeconds: lockout.lockedForSeconds };
    }
    const row = rows[0];
    if (!row || row.agent_id !== agentId) return this.fail(agentId, 'unknown_client', context);
    if (row.expires_at && row.expires_at.getTime() <= Date.now()) {
      return this.fail(agentId, 'expired_credential', context);
    }

    const binding = VerifiedSecretCache.binding(row.id, row.secret_version, row.vault_version);
    const hit = this.cache.matches(binding, secret);
    this.metrics.secretCache.inc({ result: hit ? 'hit' : 'miss' });
    if (!hit) {
      let verified: boolean;
      try {
        verified = await this.verifyOnce(binding, toRef(row), secret, context);
      } catch (error) {
        if (!(error instanceof SecretMissingError)) throw error;
        // The row changed under the request (deleted or rotated): answer for what is there now.
        if (first && (await this.rowChanged(row))) {
          return this.attempt(clientId, secret, context, false);
        }
        throw this.secrets.lost(toRef(row), context);
      }
      if (!verified) return this.fail(agentId, 'wrong_secret', context);
      this.cache.remember(binding, secret);
      await this.migrateIfWanted(row, secret, context);
    }

    if (lockout.failures > 0) await this.lockout.recordSuccess(agentId);
    this.touchLastUsed(row.id);
    return {
      ok: true,
      client: {
        agentId: row.agent_id,
        credentialId: row.id,
        secretVersion: row.secret_version,
        tokenGeneration: row.token_generation,
        agentActive: row.agent_status === 'active',
        allowedScopes: row.allowed_scopes,
      },
    };
  }

  private async lookupWithLockout(
    credentialId: string,
    agentId: string,
  ): Promise<[AuthRow[], { lockedForSeconds: number; failures: number }]> {
    const [row] = await preparedQuery<
      (AuthRow | { [column in keyof AuthRow]: null }) & {
        failures: number | null;
        lock_retry: number | null;
      }
    >(this.dataSource, 'agentidp_auth_lookup_lockout', LOOKUP_WITH_LOCKOUT_SQL, [
      credentialId,
      lockoutKey(agentId),
    ]);
    return [row.id === null ? [] : [row], this.lockout.interpret(row.failures, row.lock_retry)];
  }

  private async rowChanged(seen: AuthRow): Promise<boolean> {
    const [now] = await preparedQuery<AuthRow>(
      this.dataSource,
      'agentidp_auth_lookup',
      LOOKUP_SQL,
      [seen.id],
    );
    return (
      !now || now.secret_version !== seen.secret_version || now.vault_version !== seen.vault_version
    );
  }

  private async fail(
    agentId: string,
    reason: 'unknown_client' | 'wrong_secret' | 'expired_credential',
    context: RequestContext | undefined,
  ): Promise<AuthenticationResult> {
    const lockedForSeconds = await this.lockout.recordFailure(agentId, context);
    return { ok: false, reason, lockedForSeconds };
  }

  /** Concurrent cold requests with the same secret share one slow verification. */
  /**
   * Concurrent requests presenting the same secret share one verification; a store failure is
   * then reported with the first one's context.
   */
  private verifyOnce(
    binding: string,
    ref: SecretRef,
    secret: string,
    context: RequestContext | undefined,
  ): Promise<boolean> {
    const key = `${binding}:${secret}`;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const timer = this.metrics.secretVerification.startTimer({
      store: ref.vaultPath ? 'vault' : 'bcrypt',
    });
    const verification = this.secrets
      .verify(ref, secret, context)
      .then(
        (ok) => {
          timer({ result: ok ? 'match' : 'mismatch' });
          return ok;
        },
        (error: unknown) => {
          timer({ result: 'error' });
          throw error;
        },
      )
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, verification);
    return verification;
  }

  private async migrateIfWanted(
    row: AuthRow,
    secret: string,
    context: RequestContext | undefined,
  ): Promise<void> {
    try {
      const stored = await this.secrets.afterVerified(toRef(row), secret, context);
      if (!stored) return;
      // Only the row that was verified moves: a concurrent rotation wins and the copy is dropped.
      const result = await this.dataSource.query<[unknown[], number]>(
        `UPDATE credentials
            SET secret_hash = NULL, vault_path = $2, vault_version = $3, updated_at = now()
          WHERE id = $1 AND secret_version = $4 AND vault_path IS NULL`,
        [row.id, stored.vaultPath, stored.vaultVersion, row.secret_version],
      );
      if (result[1] > 0) {
        this.audit.record({
          type: AuditEventType.CredentialMigratedToVault,
          outcome: AuditOutcome.Success,
          targetType: 'credential',
          targetId: row.id,
          details: { agentId: row.agent_id },
          context,
        });
      }
    } catch (error) {
      // Migration is best effort: the client already authenticated, and bcrypt still works.
      this.logger.warn(
        requestLogMessage(
          `Could not move credential ${row.id} to Vault: ${(error as Error).message}`,
          context?.requestId,
        ),
      );
    }
  }

  /**
   * `lastUsedAt` at minute resolution: a credential becomes due once a minute, and due ones are
   * written together, off the response path. One statement per flush, not one commit per
   * credential: a busy replica's credentials all come due in the same second.
   */
  private touchLastUsed(credentialId: string): void {
    const now = Date.now();
    const last = this.lastUsedWritten.get(credentialId) ?? 0;
    if (now - last < LAST_USED_INTERVAL_MS) return;
    this.lastUsedWritten.set(credentialId, now);
    if (this.lastUsedWritten.size > 100_000) this.lastUsedWritten.clear();
    this.touched.add(credentialId);
  }

  /** Writes the due `last_used_at` values; a failure is logged and those are dropped. */
  override async flush(): Promise<void> {
    if (this.touched.size === 0) return;
    const ids = [...this.touched];
    this.touched = new Set();
    try {
      await this.dataSource.query(TOUCH_SQL, [ids]);
    } catch (error) {
      this.logger.warn(`Could not record last use: ${(error as Error).message}`);
    }
  }
}

function toRef(row: AuthRow): SecretRef {
  return {
    credentialId: row.id,
    agentId: row.agent_id,
    secretHash: row.secret_hash,
    vaultPath: row.vault_path,
    vaultVersion: row.vault_version,
  };
}
