import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import {
  DomainException,
  ErrorCode,
  requestLogMessage,
  type RequestContext,
} from '@agentidp/common';
import { randomInt, randomUUID } from 'node:crypto';
import { DataSource, type EntityManager, type FindOptionsSelect } from 'typeorm';
import { bootstrapCredentialId, generateClientSecret } from './client-secret';
import { Credential, CredentialStatus } from './credential.entity';
import type { CreateCredentialDto } from './dto/create-credential.dto';
import {
  toCredentialResponse,
  type CredentialResponse,
  type CredentialWithSecretResponse,
} from './dto/credential.response';
import {
  SecretMissingError,
  SecretStrategy,
  type SecretRef,
  type StoredSecret,
} from './secret-strategy';

/** Far below the integer column's limit, so rotations never overflow it. */
const BOOTSTRAP_FIRST_VERSION_LIMIT = 2 ** 30;

/** An agent holds at most this many credentials: enough for any roll-over, bounded for abuse. */
export const MAX_CREDENTIALS_PER_AGENT = 50;

const SECRET_COLUMNS: FindOptionsSelect<Credential> = {
  id: true,
  agentId: true,
  status: true,
  secretHash: true,
  secretVersion: true,
  vaultPath: true,
  vaultVersion: true,
  expiresAt: true,
  lastUsedAt: true,
  rotatedAt: true,
  createdAt: true,
  updatedAt: true,
};

/**
 * Credential lifecycle. Every write keeps the row and the secret store in step: a secret is stored
 * before its row exists and discarded if the row cannot be saved; a rotation holds the row lock
 * while the new secret is written; a deletion removes the secret before the row.
 */
@Injectable()
export class CredentialsService {
  private readonly logger = new Logger(CredentialsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly secrets: SecretStrategy,
    private readonly audit: AuditService,
  ) {}

  /** `context`: the request asking, for the audit event (none for the CLI and bootstrap). */
  async create(
    agentId: string,
    dto: CreateCredentialDto,
    context?: RequestContext,
  ): Promise<CredentialWithSecretResponse> {
    const expiresAt = resolveExpiry(dto);
    await this.assertAgentExists(this.dataSource.manager, agentId);
    const count = await this.dataSource.manager.count(Credential, { where: { agentId } });
    if (count >= MAX_CREDENTIALS_PER_AGENT) {
      throw new DomainException(
        ErrorCode.CONFLICT,
        `An agent holds at most ${MAX_CREDENTIALS_PER_AGENT} credentials; delete one first`,
      );
    }
    const id = randomUUID();
    const secret = generateClientSecret(id);
    const credential = await this.insertWithSecret({ id, agentId, expiresAt }, secret, 1, context);
    this.audit.record({
      type: AuditEventType.CredentialCreated,
      outcome: AuditOutcome.Success,
      targetType: 'credential',
      targetId: id,
      details: { agentId, storage: this.secrets.kind },
      context,
    });
    return { ...toCredentialResponse(credential), clientSecret: secret };
  }

  /**
   * Creates the credential an operator-supplied bootstrap secret belongs to, unless it exists.
   * When it exists with a different secret, the stored one is replaced (the operator changed it).
   */
  async ensureBootstrapCredential(
    agentId: string,
    secret: string,
  ): Promise<'created' | 'unchanged' | 'replaced'> {
    const id = bootstrapCredentialId(agentId);
    const existing = await this.loadWithSecret(this.dataSource.manager, id);
    if (!existing) {
      // The id is derived from the agent's, so a deleted bootstrap credential comes back under the
      // same id: a random first secret version keeps the deleted one's cache entries and tokens
      // (both keyed by id and version) from matching the new credential.
      await this.insertWithSecret(
        { id, agentId, expiresAt: null },
        secret,
        randomInt(2, BOOTSTRAP_FIRST_VERSION_LIMIT),
      );
      return 'created';
    }
    if (await this.storedSecretIs(toSecretRef(existing), secret)) return 'unchanged';
    await this.replaceSecret(agentId, id, secret);
    return 'replaced';
  }

  /** True when the stored secret is `secret`; false when it differs or is gone from its store. */
  private async storedSecretIs(ref: SecretRef, secret: string): Promise<boolean> {
    try {
      return await this.secrets.verify(ref, secret);
    } catch (error) {
      if (error instanceof SecretMissingError) return false;
      throw error;
    }
  }

  /** Creates a credential with a fresh secret for an agent (operator CLI, bootstrap). */
  async issueForAgent(agentId: string): Promise<CredentialWithSecretResponse> {
    return this.create(agentId, {});
  }

  async list(agentId: string): Promise<{ items: CredentialResponse[] }> {
    await this.assertAgentExists(this.dataSource.manager, agentId);
    const rows = await this.dataSource.manager.find(Credential, {
      where: { agentId },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
    return { items: rows.map(toCredentialResponse) };
  }

  async get(agentId: string, credentialId: string): Promise<CredentialResponse> {
    const credential = await this.dataSource.manager.findOne(Credential, {
      where: { id: credentialId, agentId },
    });
    if (!credential) throw notFound();
    return toCredentialResponse(credential);
  }

  async rotate(
    agentId: string,
    credentialId: string,
    context?: RequestContext,
  ): Promise<CredentialWithSecretResponse> {
    const secret = generateClientSecret(credentialId);
    const credential = await this.replaceSecret(agentId, credentialId, secret, context);
    this.audit.record({
      type: AuditEventType.CredentialRotated,
      outcome: AuditOutcome.Success,
      targetType: 'credential',
      targetId: credentialId,
      details: {
        agentId,
        storage: credential.vaultPath ? 'vault' : 'bcrypt',
        secretVersion: credential.secretVersion,
      },
      context,
    });
    return { ...toCredentialResponse(credential), clientSecret: secret };
  }

  async delete(agentId: string, credentialId: string, context?: RequestContext): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const current = await this.loadWithSecret(manager, credentialId, { lock: true });
      if (!current || current.agentId !== agentId) throw notFound();
      await this.secrets.remove(toSecretRef(current), context);
      await manager.delete(Credential, { id: credentialId });
    });
    this.audit.record({
      type: AuditEventType.CredentialDeleted,
      outcome: AuditOutcome.Success,
      targetType: 'credential',
      targetId: credentialId,
      details: { agentId },
      context,
    });
  }

  /**
   * Removes every credential of an agent, each one atomically (secret, then row), so a store
   * failure halfway leaves only whole credentials behind and the call can simply be retried.
   */
  async deleteAllForAgent(agentId: string, context?: RequestContext): Promise<number> {
    const ids = (
      await this.dataSource.manager.find(Credential, { where: { agentId }, select: { id: true } })
    ).map((row) => row.id);
    for (const id of ids) {
      await this.dataSource.transaction(async (manager) => {
        const current = await this.loadWithSecret(manager, id, { lock: true });
        if (!current) return;
        await this.secrets.remove(toSecretRef(current), context);
        await manager.delete(Credential, { id });
      });
    }
    return ids.length;
  }

  private async insertWithSecret(
    row: { id: string; agentId: string; expiresAt: Date | null },
    secret: string,
    secretVersion = 1,
    context?: RequestContext,
  ): Promise<Credential> {
    const ref = { credentialId: row.id, agentId: row.agentId };
    const stored = await this.secrets.store(ref, secret, context);
    const now = new Date();
    const credential = Object.assign(new Credential(), {
      ...row,
      ...stored,
      status: CredentialStatus.Active,
      secretVersion,
      lastUsedAt: null,
      rotatedAt: null,
      createdAt: now,
      updatedAt: now,
    });
    try {
      await this.dataSource.manager.insert(Credential, credential);
    } catch (error) {
      await this.discardQuietly(ref, stored, context);
      if ((error as { code?: string }).code === '23503') throw agentNotFound();
      throw error;
    }
    return credential;
  }

  private async replaceSecret(
    agentId: string,
    credentialId: string,
    secret: string,
    context?: RequestContext,
  ): Promise<Credential> {
    return this.dataSource.transaction(async (manager) => {
      // The row lock serialises rotations of one credential across replicas; the store writes the
      // new secret while it is held, so no concurrent rotation can lose one.
      const current = await this.loadWithSecret(manager, credentialId, { lock: true });
      if (!current || current.agentId !== agentId) throw notFound();
      const stored = await this.secrets.replace(toSecretRef(current), secret, context);
      const now = new Date();
      const changes: Partial<Credential> = {
        ...stored,
        secretVersion: current.secretVersion + 1,
        rotatedAt: now,
        updatedAt: now,
      };
      await manager.update(Credential, { id: credentialId }, changes);
      return Object.assign(current, changes);
    });
  }

  private async loadWithSecret(
    manager: EntityManager,
    credentialId: string,
    options: { lock?: boolean } = {},
  ): Promise<Credential | null> {
    return manager.findOne(Credential, {
      where: { id: credentialId },
      select: SECRET_COLUMNS,
      ...(options.lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  private async assertAgentExists(manager: EntityManager, agentId: string): Promise<void> {
    const rows = await manager.query<unknown[]>('SELECT 1 FROM agents WHERE id = $1', [agentId]);
    if (rows.length === 0) throw agentNotFound();
  }

  private async discardQuietly(
    ref: Pick<SecretRef, 'credentialId' | 'agentId'>,
    stored: StoredSecret,
    context: RequestContext | undefined,
  ): Promise<void> {
    try {
      await this.secrets.discard(ref, stored, context);
    } catch (error) {
      this.logger.error(
        requestLogMessage(
          `Could not discard the stored secret of credential ${ref.credentialId} after a failed insert: ${(error as Error).message}`,
          context?.requestId,
        ),
      );
    }
  }
}

export function toSecretRef(credential: Credential): SecretRef {
  return {
    credentialId: credential.id,
    agentId: credential.agentId,
    secretHash: credential.secretHash,
    vaultPath: credential.vaultPath,
    vaultVersion: credential.vaultVersion,
  };
}

function resolveExpiry(dto: CreateCredentialDto): Date | null {
  if (dto.expiresAt !== undefined && dto.expiresInSeconds !== undefined) {
    throw new DomainException(
      ErrorCode.VALIDATION_FAILED,
      'Give expiresAt or expiresInSeconds, not both',
      [{ field: 'expiresAt', problems: ['expiresAt and expiresInSeconds are mutually exclusive'] }],
    );
  }
  if (dto.expiresInSeconds !== undefined) return new Date(Date.now() + dto.expiresInSeconds * 1000);
  if (dto.expiresAt !== undefined) {
    const at = new Date(dto.expiresAt);
    if (Number.isNaN(at.getTime()) || at.getTime() <= Date.now()) {
      throw new DomainException(ErrorCode.VALIDATION_FAILED, 'expiresAt must be in the future', [
        { field: 'expiresAt', problems: ['expiresAt must be a future RFC 3339 date-time'] },
      ]);
    }
    return at;
  }
  return null;
}

function notFound(): DomainException {
  return new DomainException(ErrorCode.CREDENTIAL_NOT_FOUND, 'Credential not found');
}

function agentNotFound(): DomainException {
  return new DomainException(ErrorCode.AGENT_NOT_FOUND, 'Agent not found');
}
