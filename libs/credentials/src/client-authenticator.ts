import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ClientLockoutService } from '@agentidp/abuse';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import {
  batchedRows,
  isUuid,
  keyedStatement,
  PeriodicFlush,
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

/** A credential joined to its agent: what checking the secret and issuing a token need. */
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

type AgentColumns = 'agent_id' | 'agent_status' | 'token_generation' | 'allowed_scopes';

/**
 * What the hot-path lookup returns for an existing agent: the credential the secret names, or
 * nulls when the agent has no such credential; and whether its lockout counter must be read.
 */
export type LookupRow = (
  | AuthRow
  | (Pick<AuthRow, AgentColumns> & { [column in Exclude<keyof AuthRow, AgentColumns>]: null })
) & { failures_recent: boolean };

/**
 * Indexed lookups of agents by primary key, each with the credential its secret names (also by
 * primary key) when it is that agent's. No row for a key: no such agent.
 */
const LOOKUP = keyedStatement(
  'agentidp_auth_lookup',
  ['uuid', 'uuid'],
  (keys) => `
  SELECT k.i, c.id, a.id AS agent_id, c.secret_hash, c.secret_version, c.vault_path,
         c.vault_version, c.expires_at, a.status AS agent_status, a.token_generation,
         a.allowed_scopes, COALESCE(a.auth_failures_until > now(), false) AS failures_recent
    FROM (${keys}) AS k (credential_id, agent_id, i)
    JOIN agents a ON a.id = k.agent_id
    LEFT JOIN credentials c ON c.id = k.credential_id AND c.agent_id = a.id`,
);

/** A credential's versions once no delete or rotation of it is in flight (see `rowChanged`). */
const ROW_VERSION_SQL = `SELECT secret_version, vault_version FROM credentials WHERE id = $1 FOR SHARE`;

/**
 * After a failure is counted, before it is answered: every request reads the agent's counter for
 * a full window from now, which outlasts both the counter's window and a lockout this failure
 * started (kept if later: a lockout started under a longer window lasts it out).
 */
const MARK_FAILURE_SQL = `
  UPDATE agents
     SET auth_failures_until = GREATEST(auth_failures_until, now() + make_interval(secs => $2))
   WHERE id = $1`;

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
  /** The hot-path lookup ([credential id, agent id]), one statement per event-loop turn. */
  private readonly lookup = batchedRows<LookupRow>(LOOKUP, () => this.dataSource);

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
    const found = await this.lookup([credentialId, agentId]);
    // No such agent: its failures are counted all the same, so that the answers (and the lockout)
    // are those a known client gets.
    if (!found) return this.fail(agentId, 'unknown_client', context, false);
    // The lockout counter is read only after a recent failure; a locked-out client costs no
    // secret check.
    let failures = 0;
    if (found.failures_recent) {
      const lockout = await this.lockout.status(agentId);
      if (lockout.lockedForSeconds > 0) {
        return { ok: false, reason: 'locked_out', lockedForSeconds: lockout.lockedForSeconds };
      }
      failures = lockout.failures;
    }
    if (found.id === null) return this.fail(agentId, 'unknown_client', context, true);
    const row: AuthRow = found;
    if (row.expires_at && row.expires_at.getTime() <= Date.now()) {
      return this.fail(agentId, 'expired_credential', context, true);
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
      if (!verified) return this.fail(agentId, 'wrong_secret', context, true);
      this.cache.remember(binding, secret);
      await this.migrateIfWanted(row, secret, context);
    }

    if (failures > 0) await this.lockout.recordSuccess(agentId);
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

  /**
   * Whether the credential was deleted or rotated since `seen` was read. Waits for a delete or
   * rotation still in flight (they hold the row `FOR UPDATE`): a delete removes the secret from
   * Vault before its transaction commits, and the row it is removing must not pass for unchanged.
   */
  private async rowChanged(seen: AuthRow): Promise<boolean> {
    const [now] = await this.dataSource.query<Pick<AuthRow, 'secret_version' | 'vault_version'>[]>(
      ROW_VERSION_SQL,
      [seen.id],
    );
    return (
      !now || now.secret_version !== seen.secret_version || now.vault_version !== seen.vault_version
    );
  }

  /**
   * Counts a failure, then marks a known agent so that every replica reads its counter from the
   * next request on; a client that was locked out already is answered as such. A mark that fails
   * is logged and the answer stands: the failure is counted either way.
   */
  private async fail(
    agentId: string,
    reason: 'unknown_client' | 'wrong_secret' | 'expired_credential',
    context: RequestContext | undefined,
    agentExists: boolean,
  ): Promise<AuthenticationResult> {
    const failure = await this.lockout.recordFailure(agentId, context);
    if (agentExists && this.lockout.enabled) {
      try {
        await this.dataSource.query(MARK_FAILURE_SQL, [agentId, this.lockout.windowSeconds]);
      } catch (error) {
        this.logger.warn(
          requestLogMessage(
            `Could not mark agent ${agentId} as failing authentication: ${(error as Error).message}`,
            context?.requestId,
          ),
        );
      }
    }
    if (failure.wasLockedOut) {
      return { ok: false, reason: 'locked_out', lockedForSeconds: failure.lockedForSeconds };
    }
    return { ok: false, reason, lockedForSeconds: failure.lockedForSeconds };
  }

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
