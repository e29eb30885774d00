import { Logger } from '@nestjs/common';
import { AuditEventType, AuditOutcome, type AuditRecord, type AuditService } from '@agentidp/audit';
import { DomainException, ErrorCode } from '@agentidp/common';
import {
  SecretMissingError,
  type BcryptSecretStrategy,
  type SecretRef,
} from '@agentidp/credentials';
import crypto from 'node:crypto';
import { type KvSecret, type VaultClient } from './vault.client';
import { VaultError } from './vault.errors';
import { type VaultModuleOptions } from './vault.options';
import { VaultSecretStrategy } from './vault-secret.strategy';

const AGENT_ID = '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b';
const CREDENTIAL_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const SECRET = 'aidp_the-current-secret-of-this-credential';
const PATH = `secret/data/agentidp/agents/${AGENT_ID}/credentials/${CREDENTIAL_ID}`;
const METADATA_PATH = `secret/metadata/agentidp/agents/${AGENT_ID}/credentials/${CREDENTIAL_ID}`;

type KvWriteCall = { path: string; data: Record<string, string>; cas: number | undefined };

/** KV v2 in memory: versions per path, `cas` honoured, every call recorded. */
class FakeVaultClient implements Pick<
  VaultClient,
  'mount' | 'kvWrite' | 'kvRead' | 'kvDestroyAll'
> {
  readonly versions = new Map<string, Record<string, unknown>[]>();
  readonly writes: KvWriteCall[] = [];
  readonly reads: { path: string; version: number | undefined }[] = [];
  readonly destroyed: string[] = [];
  /** The next call of each kind fails with this error. */
  failWrite?: Error;
  failRead?: Error;
  failDelete?: Error;

  constructor(readonly mount = 'secret') {}

  async kvWrite(dataPath: string, data: Record<string, string>, cas?: number): Promise<number> {
    this.writes.push({ path: dataPath, data, cas });
    if (this.failWrite) throw this.failWrite;
    const history = this.versions.get(dataPath) ?? [];
    if (cas !== undefined && cas !== history.length) {
      throw new VaultError('rejected', 'write', 400);
    }
    history.push(data);
    this.versions.set(dataPath, history);
    return history.length;
  }

  async kvRead(dataPath: string, version?: number): Promise<KvSecret> {
    this.reads.push({ path: dataPath, version });
    if (this.failRead) throw this.failRead;
    const history = this.versions.get(dataPath) ?? [];
    const wanted = version ?? history.length;
    const data = history[wanted - 1];
    if (!data) throw new VaultError('not_found', 'read', 404);
    return { data, version: wanted };
  }

  async kvDestroyAll(metadataPath: string): Promise<void> {
    this.destroyed.push(metadataPath);
    if (this.failDelete) throw this.failDelete;
  }
}

class FakeBcrypt implements Pick<BcryptSecretStrategy, 'verify'> {
  readonly calls: { ref: SecretRef; presented: string }[] = [];
  answer = true;

  async verify(ref: SecretRef, presented: string): Promise<boolean> {
    this.calls.push({ ref, presented });
    return this.answer;
  }
}

class FakeAudit implements Pick<AuditService, 'record'> {
  readonly records: AuditRecord[] = [];

  record(event: AuditRecord): void {
    this.records.push(event);
  }
}

const options: VaultModuleOptions = {
  addr: 'http://127.0.0.1:8200',
  token: 'test-token',
  mount: 'secret',
  timeoutMs: 2000,
  migrateOnUse: false,
  renewIncrementSeconds: 3600,
};

function vaultRef(overrides: Partial<SecretRef> = {}): SecretRef {
  return {
    credentialId: CREDENTIAL_ID,
    agentId: AGENT_ID,
    secretHash: null,
    vaultPath: PATH,
    vaultVersion: 1,
    ...overrides,
  };
}

const bcryptRef = (): SecretRef =>
  vaultRef({ secretHash: '$2b$04$placeholder', vaultPath: null, vaultVersion: null });

/** The audit record a Vault failure on the spec's credential leaves. */
function vaultErrorRecord(details: {
  operation: string;
  kind: string;
  status: number | null;
}): AuditRecord {
  return {
    type: AuditEventType.VaultError,
    outcome: AuditOutcome.Failure,
    targetType: 'credential',
    targetId: CREDENTIAL_ID,
    details,
  };
}

describe(VaultSecretStrategy.name, () => {
  describe('dataPath', () => {
    it('places a credential under agentidp/agents/{agent}/credentials/{credential}', () => {
      expect(VaultSecretStrategy.dataPath('secret', AGENT_ID, CREDENTIAL_ID)).toBe(PATH);
    });

    it('keeps a mount with slashes as it is', () => {
      expect(VaultSecretStrategy.dataPath('kv/prod', AGENT_ID, CREDENTIAL_ID)).toBe(
        `kv/prod/data/agentidp/agents/${AGENT_ID}/credentials/${CREDENTIAL_ID}`,
      );
    });
  });

  describe('metadataPath', () => {
    it('swaps data for metadata right after the mount', () => {
      expect(VaultSecretStrategy.metadataPath(PATH)).toBe(METADATA_PATH);
    });

    it.each(['kv/prod', 'team/data', 'data', 'a/b/c'])(
      'finds the mount %s in the data path it built',
      (mount) => {
        const dataPath = VaultSecretStrategy.dataPath(mount, AGENT_ID, CREDENTIAL_ID);
        expect(VaultSecretStrategy.metadataPath(dataPath)).toBe(
          `${mount}/metadata/agentidp/agents/${AGENT_ID}/credentials/${CREDENTIAL_ID}`,
        );
      },
    );

    it('refuses a path that is not an AgentIdP KV v2 data path', () => {
      expect(() => VaultSecretStrategy.metadataPath('secret/agentidp/agents/x')).toThrow(
        /Not an AgentIdP KV v2 data path/,
      );
    });
  });

  describe('the strategy', () => {
    let vault: FakeVaultClient;
    let bcrypt: FakeBcrypt;
    let audit: FakeAudit;

    const strategyWith = (overrides: Partial<VaultModuleOptions> = {}) =>
      new VaultSecretStrategy(
        vault as unknown as VaultClient,
        bcrypt as unknown as BcryptSecretStrategy,
        audit as unknown as AuditService,
        { ...options, ...overrides },
      );

    beforeEach(() => {
      vault = new FakeVaultClient();
      bcrypt = new FakeBcrypt();
      audit = new FakeAudit();
      jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    });

    afterEach(() => {
      jest.restoreAllMocks();
    });

    it('is the vault kind', () => {
      expect(strategyWith().kind).toBe('vault');
    });

    describe('store', () => {
      it('writes a new key with cas 0 and returns its path and version', async () => {
        const stored = await strategyWith().store(
          { credentialId: CREDENTIAL_ID, agentId: AGENT_ID },
          SECRET,
        );
        expect(vault.writes).toEqual([{ path: PATH, data: { clientSecret: SECRET }, cas: 0 }]);
        expect(stored).toEqual({ secretHash: null, vaultPath: PATH, vaultVersion: 1 });
      });

      it('writes under the configured mount', async () => {
        vault = new FakeVaultClient('kv/prod');
        const stored = await strategyWith().store(
          { credentialId: CREDENTIAL_ID, agentId: AGENT_ID },
          SECRET,
        );
        expect(stored.vaultPath).toBe(
          `kv/prod/data/agentidp/agents/${AGENT_ID}/credentials/${CREDENTIAL_ID}`,
        );
      });

      it('fails with VAULT_WRITE_ERROR and an audit record when Vault fails', async () => {
        vault.failWrite = new VaultError('sealed', 'write', 503);
        const strategy = strategyWith();

        const attempt = strategy.store({ credentialId: CREDENTIAL_ID, agentId: AGENT_ID }, SECRET);

        await expect(attempt).rejects.toBeInstanceOf(DomainException);
        await expect(attempt).rejects.toMatchObject({ code: ErrorCode.VAULT_WRITE_ERROR });
        expect(audit.records).toEqual([
          vaultErrorRecord({ operation: 'write', kind: 'sealed', status: 503 }),
        ]);
      });

      it('does not overwrite a key that already exists', async () => {
        await vault.kvWrite(PATH, { clientSecret: 'already-there' });
        const attempt = strategyWith().store(
          { credentialId: CREDENTIAL_ID, agentId: AGENT_ID },
          SECRET,
        );
        await expect(attempt).rejects.toMatchObject({ code: ErrorCode.VAULT_WRITE_ERROR });
        expect(vault.versions.get(PATH)).toEqual([{ clientSecret: 'already-there' }]);
      });

      it('never puts the secret in the error or the audit record', async () => {
        vault.failWrite = new VaultError('denied', 'write', 403);
        const error = await strategyWith()
          .store({ credentialId: CREDENTIAL_ID, agentId: AGENT_ID }, SECRET)
          .catch((caught: unknown) => caught);
        expect(String((error as Error).message)).not.toContain(SECRET);
        expect(JSON.stringify(audit.records)).not.toContain(SECRET);
      });
    });

    describe('replace', () => {
      it('writes a new version at the same path without cas', async () => {
        await vault.kvWrite(PATH, { clientSecret: 'old' }, 0);
        const stored = await strategyWith().replace(vaultRef(), SECRET);
        expect(vault.writes[1]).toEqual({
          path: PATH,
          data: { clientSecret: SECRET },
          cas: undefined,
        });
        expect(stored).toEqual({ secretHash: null, vaultPath: PATH, vaultVersion: 2 });
      });

      it('moves a bcrypt-backed credential to its Vault path', async () => {
        const stored = await strategyWith().replace(bcryptRef(), SECRET);
        expect(vault.writes).toEqual([
          { path: PATH, data: { clientSecret: SECRET }, cas: undefined },
        ]);
        expect(stored).toEqual({ secretHash: null, vaultPath: PATH, vaultVersion: 1 });
      });

      it('fails with VAULT_WRITE_ERROR when Vault times out', async () => {
        vault.failWrite = new VaultError('timeout', 'write');
        await expect(strategyWith().replace(vaultRef(), SECRET)).rejects.toMatchObject({
          code: ErrorCode.VAULT_WRITE_ERROR,
        });
        expect(audit.records[0].details).toEqual({
          operation: 'write',
          kind: 'timeout',
          status: null,
        });
      });

      it('passes an error that is not a VaultError through unchanged', async () => {
        const bug = new TypeError('unexpected');
        vault.failWrite = bug;
        await expect(strategyWith().replace(vaultRef(), SECRET)).rejects.toBe(bug);
        expect(audit.records).toEqual([]);
      });
    });

    describe('verify', () => {
      beforeEach(async () => {
        await vault.kvWrite(PATH, { clientSecret: 'version-one' }, 0);
        await vault.kvWrite(PATH, { clientSecret: SECRET });
      });

      it('reads the version the row records and accepts its secret', async () => {
        await expect(strategyWith().verify(vaultRef({ vaultVersion: 2 }), SECRET)).resolves.toBe(
          true,
        );
        expect(vault.reads).toEqual([{ path: PATH, version: 2 }]);
      });

      it('does not accept the secret of another version', async () => {
        await expect(strategyWith().verify(vaultRef({ vaultVersion: 1 }), SECRET)).resolves.toBe(
          false,
        );
        expect(vault.reads).toEqual([{ path: PATH, version: 1 }]);
      });

      it.each([
        ['a wrong secret', 'aidp_a-wrong-secret-of-similar-length-xx'],
        ['a prefix of the secret', SECRET.slice(0, -1)],
        ['the secret with a suffix', `${SECRET}x`],
        ['an empty secret', ''],
      ])('refuses %s', async (_case, presented) => {
        await expect(strategyWith().verify(vaultRef({ vaultVersion: 2 }), presented)).resolves.toBe(
          false,
        );
      });

      it('compares in constant time over equal-length digests', async () => {
        const compare = jest.spyOn(crypto, 'timingSafeEqual');
        await strategyWith().verify(vaultRef({ vaultVersion: 2 }), 'short');
        expect(compare).toHaveBeenCalledTimes(1);
        const [left, right] = compare.mock.calls[0] as [Buffer, Buffer];
        expect(left).toHaveLength(32);
        expect(right).toHaveLength(32);
      });

      it('delegates a bcrypt-backed credential to the bcrypt strategy', async () => {
        bcrypt.answer = true;
        const ref = bcryptRef();
        await expect(strategyWith().verify(ref, SECRET)).resolves.toBe(true);
        expect(bcrypt.calls).toEqual([{ ref, presented: SECRET }]);
        expect(vault.reads).toEqual([]);

        bcrypt.answer = false;
        await expect(strategyWith().verify(ref, SECRET)).resolves.toBe(false);
      });

      it('fails with VAULT_READ_ERROR and an audit record when Vault fails', async () => {
        vault.failRead = new VaultError('unreachable', 'read');
        const attempt = strategyWith().verify(vaultRef({ vaultVersion: 2 }), SECRET);
        await expect(attempt).rejects.toBeInstanceOf(DomainException);
        await expect(attempt).rejects.toMatchObject({ code: ErrorCode.VAULT_READ_ERROR });
        expect(audit.records).toEqual([
          vaultErrorRecord({ operation: 'read', kind: 'unreachable', status: null }),
        ]);
      });

      // Whether a missing secret is a race or a broken store is the authenticator's call.
      it('reports a recorded version that is gone as a missing secret, unaudited', async () => {
        await expect(
          strategyWith().verify(vaultRef({ vaultVersion: 9 }), SECRET),
        ).rejects.toBeInstanceOf(SecretMissingError);
        expect(audit.records).toEqual([]);
      });

      it('reports a lost secret as VAULT_READ_ERROR with an audit record', () => {
        const error = strategyWith().lost(vaultRef({ vaultVersion: 2 }));
        expect(error).toBeInstanceOf(DomainException);
        expect(error).toMatchObject({ code: ErrorCode.VAULT_READ_ERROR });
        expect(audit.records).toEqual([
          vaultErrorRecord({ operation: 'read', kind: 'not_found', status: null }),
        ]);
      });

      it('reports a version holding no clientSecret as a missing secret', async () => {
        await vault.kvWrite(PATH, { somethingElse: SECRET });
        await expect(
          strategyWith().verify(vaultRef({ vaultVersion: 3 }), SECRET),
        ).rejects.toBeInstanceOf(SecretMissingError);
      });
    });

    describe('remove', () => {
      it('destroys every version through the metadata path', async () => {
        await strategyWith().remove(vaultRef());
        expect(vault.destroyed).toEqual([METADATA_PATH]);
      });

      it('destroys under a custom mount with slashes', async () => {
        const dataPath = VaultSecretStrategy.dataPath('kv/prod', AGENT_ID, CREDENTIAL_ID);
        await strategyWith().remove(vaultRef({ vaultPath: dataPath }));
        expect(vault.destroyed).toEqual([
          `kv/prod/metadata/agentidp/agents/${AGENT_ID}/credentials/${CREDENTIAL_ID}`,
        ]);
      });

      it('has nothing to remove for a bcrypt-backed credential', async () => {
        await strategyWith().remove(bcryptRef());
        expect(vault.destroyed).toEqual([]);
      });

      it('fails with a Vault DomainException and an audit record when Vault fails', async () => {
        vault.failDelete = new VaultError('denied', 'delete', 403);
        const attempt = strategyWith().remove(vaultRef());
        await expect(attempt).rejects.toMatchObject({ code: ErrorCode.VAULT_WRITE_ERROR });
        expect(audit.records).toEqual([
          expect.objectContaining({
            type: AuditEventType.VaultError,
            outcome: AuditOutcome.Failure,
            targetId: CREDENTIAL_ID,
            details: { operation: 'delete', kind: 'denied', status: 403 },
          }),
        ]);
      });
    });

    describe('discard', () => {
      it('destroys what store wrote', async () => {
        await strategyWith().discard(
          { credentialId: CREDENTIAL_ID, agentId: AGENT_ID },
          { secretHash: null, vaultPath: PATH, vaultVersion: 1 },
        );
        expect(vault.destroyed).toEqual([METADATA_PATH]);
      });

      it('has nothing to discard without a Vault path', async () => {
        await strategyWith().discard(
          { credentialId: CREDENTIAL_ID, agentId: AGENT_ID },
          { secretHash: 'hash', vaultPath: null, vaultVersion: null },
        );
        expect(vault.destroyed).toEqual([]);
      });
    });

    describe('afterVerified', () => {
      it('moves a bcrypt-backed credential into Vault with VAULT_MIGRATE_ON_USE', async () => {
        const stored = await strategyWith({ migrateOnUse: true }).afterVerified(
          bcryptRef(),
          SECRET,
        );
        expect(stored).toEqual({ secretHash: null, vaultPath: PATH, vaultVersion: 1 });
        expect(vault.writes).toEqual([{ path: PATH, data: { clientSecret: SECRET }, cas: 0 }]);
      });

      it('leaves a version a concurrent rotation wrote first as the latest', async () => {
        await vault.kvWrite(PATH, { clientSecret: 'rotated-meanwhile' }, 0);
        const attempt = strategyWith({ migrateOnUse: true }).afterVerified(bcryptRef(), SECRET);
        await expect(attempt).resolves.toBeNull();
        expect(vault.versions.get(PATH)).toEqual([{ clientSecret: 'rotated-meanwhile' }]);
        // A lost race, not a Vault failure: nothing audited.
        expect(audit.records).toEqual([]);
      });

      it('moves nothing without VAULT_MIGRATE_ON_USE', async () => {
        await expect(strategyWith().afterVerified(bcryptRef(), SECRET)).resolves.toBeNull();
        expect(vault.writes).toEqual([]);
      });

      it('moves nothing that is already in Vault', async () => {
        await expect(
          strategyWith({ migrateOnUse: true }).afterVerified(vaultRef(), SECRET),
        ).resolves.toBeNull();
        expect(vault.writes).toEqual([]);
      });
    });
  });
});
