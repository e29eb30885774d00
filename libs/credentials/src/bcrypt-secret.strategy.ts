import { Injectable } from '@nestjs/common';
import { DomainException, ErrorCode } from '@agentidp/common';
import { BcryptHasher } from './bcrypt-hasher';
import { SecretStrategy, type SecretRef, type StoredSecret } from './secret-strategy';

/** The default store: a bcrypt hash in `credentials.secret_hash`. */
@Injectable()
export class BcryptSecretStrategy extends SecretStrategy {
  readonly kind = 'bcrypt' as const;

  constructor(private readonly hasher: BcryptHasher) {
    super();
  }

  async store(
    _ref: Pick<SecretRef, 'credentialId' | 'agentId'>,
    secret: string,
  ): Promise<StoredSecret> {
    return { secretHash: await this.hasher.hash(secret), vaultPath: null, vaultVersion: null };
  }

  async replace(_current: SecretRef, secret: string): Promise<StoredSecret> {
    return { secretHash: await this.hasher.hash(secret), vaultPath: null, vaultVersion: null };
  }

  async verify(current: SecretRef, presented: string): Promise<boolean> {
    if (current.vaultPath) {
      // A Vault-backed credential while Vault is not configured: it cannot be checked.
      throw new DomainException(
        ErrorCode.VAULT_READ_ERROR,
        'This credential is stored in Vault, and Vault is not configured',
      );
    }
    if (!current.secretHash) return false;
    return this.hasher.compare(presented, current.secretHash);
  }

  async remove(current: SecretRef): Promise<void> {
    if (current.vaultPath) {
      throw new DomainException(
        ErrorCode.VAULT_WRITE_ERROR,
        'This credential is stored in Vault, and Vault is not configured',
      );
    }
  }

  async discard(): Promise<void> {
    // Nothing outside the row to undo.
  }
}
