import { Inject, Injectable, Logger } from '@nestjs/common';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import {
  DomainException,
  ErrorCode,
  requestLogMessage,
  type RequestContext,
} from '@agentidp/common';
import {
  BcryptSecretStrategy,
  SecretMissingError,
  SecretStrategy,
  type SecretRef,
  type StoredSecret,
} from '@agentidp/credentials';
import { createHash, timingSafeEqual } from 'node:crypto';
import { VaultClient } from './vault.client';
import { VaultError } from './vault.errors';
import { VAULT_MODULE_OPTIONS, type VaultModuleOptions } from './vault.options';

const SECRET_FIELD = 'clientSecret';

/**
 * Secrets in Vault KV v2 at `{mount}/data/agentidp/agents/{agentId}/credentials/{credentialId}`
 * (field `clientSecret`); the row keeps only that path and the current KV version. Credentials from
 * before Vault was enabled keep their bcrypt hash and are verified by bcrypt; a rotation moves them.
 */
@Injectable()
export class VaultSecretStrategy extends SecretStrategy {
  readonly kind = 'vault' as const;
  private readonly logger = new Logger(VaultSecretStrategy.name);

  constructor(
    private readonly vault: VaultClient,
    private readonly bcrypt: BcryptSecretStrategy,
    private readonly audit: AuditService,
    @Inject(VAULT_MODULE_OPTIONS) private readonly options: VaultModuleOptions,
  ) {
    super();
  }

  /** The KV v2 data path for a credential, exactly as the runbook gives it. */
  static dataPath(mount: string, agentId: string, credentialId: string): string {
    return `${mount}/data/agentidp/agents/${agentId}/credentials/${credentialId}`;
  }

  /** The metadata path beside a stored data path (deleting it removes every version). */
  static metadataPath(dataPath: string): string {
    const index = dataPath.indexOf('/data/agentidp/');
    if (index < 0) throw new Error('Not an AgentIdP KV v2 data path');
    return `${dataPath.slice(0, index)}/metadata/agentidp/${dataPath.slice(index + '/data/agentidp/'.length)}`;
  }

  async store(
    ref: Pick<SecretRef, 'credentialId' | 'agentId'>,
    secret: string,
    context?: RequestContext,
  ): Promise<StoredSecret> {
    const path = VaultSecretStrategy.dataPath(this.vault.mount, ref.agentId, ref.credentialId);
    // cas 0: a new credential must not overwrite anything already there.
    const version = await this.guard('write', ref.credentialId, context, () =>
      this.vault.kvWrite(path, { [SECRET_FIELD]: secret }, 0),
    );
    return { secretHash: null, vaultPath: path, vaultVersion: version };
  }

  async replace(
    current: SecretRef,
    secret: string,
    context?: RequestContext,
  ): Promise<StoredSecret> {
    // The caller holds the row lock, so writes to one path are already serialised; a new KV
    // version keeps the old one in Vault's history. A bcrypt-backed credential moves to Vault here.
    const path =
      current.vaultPath ??
      VaultSecretStrategy.dataPath(this.vault.mount, current.agentId, current.credentialId);
    const version = await this.guard('write', current.credentialId, context, () =>
      this.vault.kvWrite(path, { [SECRET_FIELD]: secret }),
    );
    return { secretHash: null, vaultPath: path, vaultVersion: version };
  }

  async verify(current: SecretRef, presented: string, context?: RequestContext): Promise<boolean> {
    if (!current.vaultPath) return this.bcrypt.verify(current, presented);
    const path = current.vaultPath;
    // A missing version is no Vault failure yet: a concurrent delete or rotation explains it, and
    // only the caller, re-reading the row, can tell (see ClientAuthenticator).
    const stored = await this.guard('read', current.credentialId, context, () =>
      this.vault.kvRead(path, current.vaultVersion ?? undefined).catch((error: unknown) => {
        if (error instanceof VaultError && error.kind === 'not_found') {
          throw new SecretMissingError(current.credentialId);
        }
        throw error;
      }),
    );
    const value = stored.data?.[SECRET_FIELD];
    if (typeof value !== 'string') throw new SecretMissingError(current.credentialId);
    return constantTimeEquals(value, presented);
  }

  async remove(current: SecretRef, context?: RequestContext): Promise<void> {
    if (!current.vaultPath) return;
    const metadata = VaultSecretStrategy.metadataPath(current.vaultPath);
    await this.guard('write', current.credentialId, context, () =>
      this.vault.kvDestroyAll(metadata),
    );
  }

  async discard(
    ref: Pick<SecretRef, 'credentialId' | 'agentId'>,
    stored: StoredSecret,
    context?: RequestContext,
  ): Promise<void> {
    if (!stored.vaultPath) return;
    await this.vault.kvDestroyAll(VaultSecretStrategy.metadataPath(stored.vaultPath));
    this.logger.warn(
      requestLogMessage(
        `Removed the Vault secret of credential ${ref.credentialId}: its row could not be saved`,
        context?.requestId,
      ),
    );
  }

  /**
   * VAULT_MIGRATE_ON_USE: the secret just verified moves to Vault. A bcrypt-backed credential has
   * nothing at its path yet, so the write is `cas: 0`: if a rotation (on any replica) wrote there
   * first, this stale copy is refused instead of becoming the latest version `vault kv get` shows.
   */
  override async afterVerified(
    current: SecretRef,
    presented: string,
    context?: RequestContext,
  ): Promise<StoredSecret | null> {
    if (!this.options.migrateOnUse || current.vaultPath) return null;
    const path = VaultSecretStrategy.dataPath(
      this.vault.mount,
      current.agentId,
      current.credentialId,
    );
    let version: number;
    try {
      version = await this.vault.kvWrite(path, { [SECRET_FIELD]: presented }, 0);
    } catch (error) {
      // Check-and-set refused: something (a rotation, another replica's move) is already there.
      // Not a Vault failure: the credential stays on bcrypt and works.
      if (error instanceof VaultError && error.kind === 'rejected') return null;
      throw error instanceof VaultError
        ? this.failure('write', current.credentialId, error, context)
        : error;
    }
    return { secretHash: null, vaultPath: path, vaultVersion: version };
  }

  /** The version the row records is gone from Vault, and no rotation or deletion explains it. */
  override lost(current: SecretRef, context?: RequestContext): DomainException {
    return this.failure('read', current.credentialId, new VaultError('not_found', 'read'), context);
  }

  private async guard<T>(
    operation: 'read' | 'write',
    credentialId: string,
    context: RequestContext | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof VaultError) throw this.failure(operation, credentialId, error, context);
      throw error;
    }
  }

  private failure(
    operation: 'read' | 'write',
    credentialId: string,
    error: VaultError,
    context: RequestContext | undefined,
  ): DomainException {
    this.logger.warn(
      requestLogMessage(`${error.message} for credential ${credentialId}`, context?.requestId),
    );
    this.audit.record({
      type: AuditEventType.VaultError,
      outcome: AuditOutcome.Failure,
      targetType: 'credential',
      targetId: credentialId,
      details: { operation: error.operation, kind: error.kind, status: error.status ?? null },
      context,
    });
    return operation === 'read'
      ? new DomainException(
          ErrorCode.VAULT_READ_ERROR,
          'The secret store (Vault) could not be read',
        )
      : new DomainException(
          ErrorCode.VAULT_WRITE_ERROR,
          'The secret store (Vault) could not be written',
        );
  }
}

/** Equal-length digests first, so the comparison time says nothing about the secret's length. */
function constantTimeEquals(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}
