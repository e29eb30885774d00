import { Logger } from '@nestjs/common';
import { type ClientLockoutService, type RecordedFailure } from '@agentidp/abuse';
import { AuditEventType, AuditOutcome, type AuditRecord, type AuditService } from '@agentidp/audit';
import { AppConfig } from '@agentidp/config';
import { Metrics } from '@agentidp/metrics';
import { randomUUID } from 'node:crypto';
import { type DataSource } from 'typeorm';
import {
  ClientAuthenticator,
  type AuthenticationResult,
  type AuthRow,
} from './client-authenticator';
import { bootstrapCredentialId, generateClientSecret } from './client-secret';
import {
  SecretMissingError,
  SecretStrategy,
  type SecretRef,
  type StoredSecret,
} from './secret-strategy';
import { VerifiedSecretCache } from './verified-secret-cache';

interface QueryCall {
  sql: string;
  params: unknown[];
}

type AgentRow = Pick<AuthRow, 'agent_id' | 'agent_status' | 'token_generation' | 'allowed_scopes'>;

/** The (credential id, agent id) keys of a batched lookup's parameters. */
function pairs(params: unknown[]): [string, string][] {
  const keys: [string, string][] = [];
  for (let index = 0; index < params.length; index += 2) {
    keys.push([params[index] as string, params[index + 1] as string]);
  }
  return keys;
}

/** `DataSource.query` over in-memory agents and credentials tables; records every statement. */
class FakeDataSource {
  readonly agents = new Map<string, AgentRow>();
  readonly rows = new Map<string, AuthRow>();
  /** `auth_failures_until` by agent, in epoch milliseconds. */
  readonly failuresUntil = new Map<string, number>();
  readonly calls: QueryCall[] = [];
  /** Rows the migration UPDATE reports as changed. */
  migrationAffected = 1;
  /** The `pg` pool named prepared statements go through. */
  readonly driver = {
    master: {
      query: async (config: { text: string; values: unknown[] }) => ({
        rows: (await this.query(config.text, config.values)) as unknown[],
      }),
    },
  };

  async query(sql: string, params: unknown[] = []): Promise<unknown> {
    this.calls.push({ sql, params });
    if (/JOIN agents a/.test(sql)) {
      return pairs(params).flatMap(([credentialId, agentId], index) => {
        const row = this.lookupRow(credentialId, agentId);
        return row ? [{ i: index + 1, ...row }] : [];
      });
    }
    if (/SET auth_failures_until/.test(sql)) {
      const [agentId, seconds] = params as [string, number];
      if (!this.agents.has(agentId)) return [[], 0];
      const until = Date.now() + seconds * 1000;
      this.failuresUntil.set(agentId, Math.max(this.failuresUntil.get(agentId) ?? 0, until));
      return [[], 1];
    }
    if (/FOR SHARE/.test(sql)) {
      const row = this.rows.get(params[0] as string);
      return row ? [{ secret_version: row.secret_version, vault_version: row.vault_version }] : [];
    }
    if (/SET secret_hash = NULL/.test(sql)) return [[], this.migrationAffected];
    if (/SET last_used_at/.test(sql)) return [[], 1];
    throw new Error(`Unexpected SQL: ${sql}`);
  }

  /** Each lookup of a credential and agent, one entry per pair (a statement can carry several). */
  lookups(): QueryCall[] {
    return this.calls
      .filter((call) => /JOIN agents a/.test(call.sql))
      .flatMap(({ sql, params }) => pairs(params).map((pair) => ({ sql, params: pair })));
  }

  /** The hot-path lookup's row for one pair, as the SQL has it; undefined: no such agent. */
  private lookupRow(credentialId: string, agentId: string): object | undefined {
    const agent = this.agents.get(agentId);
    if (!agent) return undefined;
    const credential = this.rows.get(credentialId);
    const failuresRecent = (this.failuresUntil.get(agentId) ?? 0) > Date.now();
    if (credential?.agent_id === agentId) {
      return { ...credential, ...agent, failures_recent: failuresRecent };
    }
    return {
      id: null,
      secret_hash: null,
      secret_version: null,
      vault_path: null,
      vault_version: null,
      expires_at: null,
      ...agent,
      failures_recent: failuresRecent,
    };
  }

  failureMarks(): QueryCall[] {
    return this.calls.filter((call) => /SET auth_failures_until/.test(call.sql));
  }

  migrations(): QueryCall[] {
    return this.calls.filter((call) => /SET secret_hash = NULL/.test(call.sql));
  }
}

/** Verifies against a map of current secrets; can hold verifications until released. */
class FakeSecretStrategy extends SecretStrategy {
  readonly kind = 'bcrypt' as const;
  readonly current = new Map<string, string>();
  readonly verifyCalls: { ref: SecretRef; presented: string }[] = [];
  readonly afterVerifiedCalls: SecretRef[] = [];
  /** What `afterVerified` answers: a StoredSecret means "move this credential". */
  migrateTo: StoredSecret | null = null;
  afterVerifiedError?: Error;
  verifyError?: Error;
  private gate?: Promise<void>;
  private open?: () => void;

  hold(): void {
    this.gate = new Promise<void>((resolve) => {
      this.open = resolve;
    });
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  async verify(ref: SecretRef, presented: string): Promise<boolean> {
    this.verifyCalls.push({ ref, presented });
    if (this.gate) await this.gate;
    if (this.verifyError) throw this.verifyError;
    return this.current.get(ref.credentialId) === presented;
  }

  readonly lostCalls: SecretRef[] = [];

  override lost(ref: SecretRef): Error {
    this.lostCalls.push(ref);
    return new Error(`lost ${ref.credentialId}`);
  }

  override async afterVerified(ref: SecretRef): Promise<StoredSecret | null> {
    this.afterVerifiedCalls.push(ref);
    if (this.afterVerifiedError) throw this.afterVerifiedError;
    return this.migrateTo;
  }

  async store(): Promise<StoredSecret> {
    throw new Error('not used by the authenticator');
  }

  async replace(): Promise<StoredSecret> {
    throw new Error('not used by the authenticator');
  }

  async remove(): Promise<void> {
    throw new Error('not used by the authenticator');
  }

  async discard(): Promise<void> {
    throw new Error('not used by the authenticator');
  }
}

class FakeLockout implements Pick<
  ClientLockoutService,
  'enabled' | 'windowSeconds' | 'status' | 'recordFailure' | 'recordSuccess'
> {
  readonly enabled = true;
  readonly windowSeconds = 900;
  readonly failures = new Map<string, number>();
  readonly lockedFor = new Map<string, number>();
  readonly statusCalls: string[] = [];
  readonly failureCalls: string[] = [];
  readonly successCalls: string[] = [];
  /** What `recordFailure` answers as the lockout that failure started, if any. */
  lockoutOnFailure = 0;

  async status(clientId: string): Promise<{ lockedForSeconds: number; failures: number }> {
    this.statusCalls.push(clientId);
    return {
      lockedForSeconds: this.lockedFor.get(clientId) ?? 0,
      failures: this.failures.get(clientId) ?? 0,
    };
  }

  async recordFailure(clientId: string): Promise<RecordedFailure> {
    this.failureCalls.push(clientId);
    this.failures.set(clientId, (this.failures.get(clientId) ?? 0) + 1);
    const lockedFor = this.lockedFor.get(clientId) ?? 0;
    return lockedFor > 0
      ? { lockedForSeconds: lockedFor, wasLockedOut: true }
      : { lockedForSeconds: this.lockoutOnFailure, wasLockedOut: false };
  }

  async recordSuccess(clientId: string): Promise<void> {
    this.successCalls.push(clientId);
    this.failures.delete(clientId);
  }
}

class FakeAudit implements Pick<AuditService, 'record'> {
  readonly records: AuditRecord[] = [];

  record(event: AuditRecord): void {
    this.records.push(event);
  }
}

const flushAsync = () => new Promise<void>((resolve) => setImmediate(resolve));

describe(ClientAuthenticator.name, () => {
  // One registry for the file: each Metrics instance starts prom-client's default collectors.
  const metrics = new Metrics();
  let database: FakeDataSource;
  let strategy: FakeSecretStrategy;
  let cache: VerifiedSecretCache;
  let lockout: FakeLockout;
  let audit: FakeAudit;
  let authenticator: ClientAuthenticator;
  let agentId: string;
  let credentialId: string;
  let secret: string;

  function addCredential(overrides: Partial<AuthRow> = {}): AuthRow {
    const row: AuthRow = {
      id: credentialId,
      agent_id: agentId,
      secret_hash: '$2b$04$placeholder',
      secret_version: 1,
      vault_path: null,
      vault_version: null,
      expires_at: null,
      agent_status: 'active',
      token_generation: 0,
      allowed_scopes: ['agents:read'],
      ...overrides,
    };
    database.rows.set(row.id, row);
    database.agents.set(row.agent_id, {
      agent_id: row.agent_id,
      agent_status: row.agent_status,
      token_generation: row.token_generation,
      allowed_scopes: row.allowed_scopes,
    });
    return row;
  }

  beforeEach(() => {
    database = new FakeDataSource();
    strategy = new FakeSecretStrategy();
    cache = new VerifiedSecretCache(AppConfig.fromEnv({}), metrics);
    lockout = new FakeLockout();
    audit = new FakeAudit();
    authenticator = new ClientAuthenticator(
      database as unknown as DataSource,
      strategy,
      cache,
      audit as unknown as AuditService,
      lockout as unknown as ClientLockoutService,
      metrics,
    );
    agentId = randomUUID();
    credentialId = randomUUID();
    secret = generateClientSecret(credentialId);
    strategy.current.set(credentialId, secret);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('authenticates with one lookup by the credential id embedded in the secret', async () => {
    addCredential({
      secret_version: 4,
      token_generation: 2,
      allowed_scopes: ['agents:read', 'audit:read'],
    });

    const result = await authenticator.authenticate(agentId, secret);

    expect(result).toEqual<AuthenticationResult>({
      ok: true,
      client: {
        agentId,
        credentialId,
        secretVersion: 4,
        tokenGeneration: 2,
        agentActive: true,
        allowedScopes: ['agents:read', 'audit:read'],
      },
    });
    expect(database.lookups()).toEqual([
      { sql: expect.any(String) as string, params: [credentialId, agentId] },
    ]);
    // No recent failure: the lockout counter is not read.
    expect(lockout.statusCalls).toEqual([]);
    expect(strategy.verifyCalls).toHaveLength(1);
    expect(strategy.verifyCalls[0].ref).toEqual<SecretRef>({
      credentialId,
      agentId,
      secretHash: '$2b$04$placeholder',
      vaultPath: null,
      vaultVersion: null,
    });
  });

  it('looks up concurrent requests in one statement, each answered for its own pair', async () => {
    addCredential();
    const first = { agentId, credentialId, secret };
    agentId = randomUUID();
    credentialId = randomUUID();
    secret = generateClientSecret(credentialId);
    strategy.current.set(credentialId, secret);
    addCredential({ agent_status: 'suspended' });
    const unknownAgent = randomUUID();

    const results = await Promise.all([
      authenticator.authenticate(first.agentId, first.secret),
      authenticator.authenticate(unknownAgent, first.secret),
      authenticator.authenticate(agentId, secret),
      authenticator.authenticate(first.agentId, secret),
    ]);

    expect(database.calls.filter((call) => /JOIN agents a/.test(call.sql))).toHaveLength(1);
    expect(database.lookups().map((call) => call.params)).toEqual([
      [first.credentialId, first.agentId],
      [first.credentialId, unknownAgent],
      [credentialId, agentId],
      [credentialId, first.agentId],
    ]);
    expect(results[0]).toMatchObject({ ok: true, client: { agentId: first.agentId } });
    expect(results[1]).toMatchObject({ ok: false, reason: 'unknown_client' });
    expect(results[2]).toMatchObject({ ok: true, client: { agentId, agentActive: false } });
    // Another agent's credential: as if there were none.
    expect(results[3]).toMatchObject({ ok: false, reason: 'unknown_client' });
  });

  it('sends a lookup that arrives while a statement is out in the next one', async () => {
    addCredential();
    const query = database.query.bind(database);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    jest
      .spyOn(database, 'query')
      .mockImplementationOnce(async (sql: string, params?: unknown[]) => {
        await held;
        return query(sql, params);
      })
      .mockImplementation(query);
    const turn = () => new Promise((resolve) => setImmediate(resolve));

    const earlier = authenticator.authenticate(agentId, secret);
    await turn();
    const later = authenticator.authenticate(agentId, secret);
    await turn();
    // The first statement is still out; the second lookup went in a statement of its own.
    expect(database.query).toHaveBeenCalledTimes(2);
    release();

    expect((await earlier).ok).toBe(true);
    expect((await later).ok).toBe(true);
  });

  it('fails every lookup of a statement that fails, and the next statement is sent anew', async () => {
    addCredential();
    const query = database.query.bind(database);
    jest
      .spyOn(database, 'query')
      .mockImplementationOnce(() => Promise.reject(new Error('connection terminated')))
      .mockImplementation(query);

    const failed = await Promise.allSettled([
      authenticator.authenticate(agentId, secret),
      authenticator.authenticate(agentId, secret),
    ]);

    expect(failed).toEqual([
      { status: 'rejected', reason: new Error('connection terminated') },
      { status: 'rejected', reason: new Error('connection terminated') },
    ]);
    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
  });

  it('accepts the client id in upper case', async () => {
    addCredential();
    const result = await authenticator.authenticate(agentId.toUpperCase(), secret);
    expect(result.ok).toBe(true);
  });

  it('reports a suspended agent as inactive', async () => {
    addCredential({ agent_status: 'suspended' });
    const result = await authenticator.authenticate(agentId, secret);
    expect(result.ok && result.client.agentActive).toBe(false);
    expect(result.ok).toBe(true);
  });

  it('looks a secret without an embedded id up as the bootstrap credential', async () => {
    const operatorSecret = 'an-operator-chosen-bootstrap-secret-of-40-chars';
    credentialId = bootstrapCredentialId(agentId);
    strategy.current.set(credentialId, operatorSecret);
    addCredential();

    const result = await authenticator.authenticate(agentId, operatorSecret);

    expect(result.ok).toBe(true);
    expect(database.lookups().map((call) => call.params)).toEqual([[credentialId, agentId]]);
  });

  it.each([
    ['a client id that is not a UUID', 'not-a-uuid', 'secret'],
    ['an empty secret', '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b', ''],
    ['a secret over 512 characters', '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b', 'x'.repeat(513)],
  ])('refuses %s without a lookup', async (_case, clientId, presented) => {
    const result = await authenticator.authenticate(clientId, presented);
    expect(result).toEqual({ ok: false, reason: 'unknown_client', lockedForSeconds: 0 });
    expect(database.calls).toEqual([]);
    expect(strategy.verifyCalls).toEqual([]);
  });

  it('refuses an unknown client without calling the strategy, counting the failure', async () => {
    const result = await authenticator.authenticate(agentId, secret);

    expect(result).toEqual({ ok: false, reason: 'unknown_client', lockedForSeconds: 0 });
    expect(strategy.verifyCalls).toEqual([]);
    expect(lockout.failureCalls).toEqual([agentId]);
    expect(database.failureMarks()).toEqual([]);
  });

  it('answers an unknown client id locked out by its earlier failures as locked out', async () => {
    lockout.lockedFor.set(agentId, 300);

    const result = await authenticator.authenticate(agentId, secret);

    expect(result).toEqual({ ok: false, reason: 'locked_out', lockedForSeconds: 300 });
  });

  it("refuses another agent's credential without calling the strategy", async () => {
    addCredential({ agent_id: randomUUID() });
    database.agents.set(agentId, {
      agent_id: agentId,
      agent_status: 'active',
      token_generation: 0,
      allowed_scopes: [],
    });

    const result = await authenticator.authenticate(agentId, secret);

    expect(result).toMatchObject({ ok: false, reason: 'unknown_client' });
    expect(strategy.verifyCalls).toEqual([]);
    expect(lockout.failureCalls).toEqual([agentId]);
    expect(database.failureMarks().map((call) => call.params)).toEqual([[agentId, 900]]);
  });

  it('refuses an expired credential without calling the strategy', async () => {
    addCredential({ expires_at: new Date(Date.now() - 1000) });

    const result = await authenticator.authenticate(agentId, secret);

    expect(result).toMatchObject({ ok: false, reason: 'expired_credential' });
    expect(strategy.verifyCalls).toEqual([]);
    expect(lockout.failureCalls).toEqual([agentId]);
  });

  it('accepts a credential that expires in the future', async () => {
    addCredential({ expires_at: new Date(Date.now() + 60_000) });
    const result = await authenticator.authenticate(agentId, secret);
    expect(result.ok).toBe(true);
  });

  it('refuses a locked-out client with the right secret before any secret check', async () => {
    addCredential();
    database.failuresUntil.set(agentId, Date.now() + 600_000);
    lockout.lockedFor.set(agentId, 600);

    const result = await authenticator.authenticate(agentId, secret);

    expect(result).toEqual({ ok: false, reason: 'locked_out', lockedForSeconds: 600 });
    expect(strategy.verifyCalls).toEqual([]);
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0 });
    expect(lockout.failureCalls).toEqual([]);
    expect(lockout.successCalls).toEqual([]);
  });

  it('refuses a locked-out client even when its secret is warm in the cache', async () => {
    addCredential();
    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
    database.failuresUntil.set(agentId, Date.now() + 120_000);
    lockout.lockedFor.set(agentId, 120);

    const result = await authenticator.authenticate(agentId, secret);

    expect(result).toEqual({ ok: false, reason: 'locked_out', lockedForSeconds: 120 });
  });

  it('marks the agent after counting a failure, so that every request then reads its counter', async () => {
    addCredential();
    const order: string[] = [];
    const query = database.query.bind(database);
    jest.spyOn(database, 'query').mockImplementation(async (sql: string, params?: unknown[]) => {
      if (/SET auth_failures_until/.test(sql)) order.push('mark');
      return query(sql, params);
    });
    const record = lockout.recordFailure.bind(lockout);
    jest.spyOn(lockout, 'recordFailure').mockImplementation(async (clientId: string) => {
      order.push('count');
      return record(clientId);
    });

    await authenticator.authenticate(agentId, generateClientSecret(credentialId));
    expect(order).toEqual(['count', 'mark']);
    expect(lockout.statusCalls).toEqual([]);

    // The next request reads the counter (here: one failure, not locked) and a success clears it.
    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
    expect(lockout.statusCalls).toEqual([agentId]);
    expect(lockout.successCalls).toEqual([agentId]);
  });

  it('counts and answers a failure even when marking the agent fails', async () => {
    addCredential();
    const query = database.query.bind(database);
    jest.spyOn(database, 'query').mockImplementation(async (sql: string, params?: unknown[]) => {
      if (/SET auth_failures_until/.test(sql))
        throw new Error('canceling statement due to timeout');
      return query(sql, params);
    });

    const result = await authenticator.authenticate(agentId, generateClientSecret(credentialId));

    expect(result).toEqual({ ok: false, reason: 'wrong_secret', lockedForSeconds: 0 });
    expect(lockout.failureCalls).toEqual([agentId]);
    expect(Logger.prototype.warn).toHaveBeenCalledWith(
      expect.stringContaining('Could not mark agent'),
    );
  });

  it('reads no counter once the failure window of the last failure has passed', async () => {
    addCredential();
    database.failuresUntil.set(agentId, Date.now() - 1);
    lockout.lockedFor.set(agentId, 60);

    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
    expect(lockout.statusCalls).toEqual([]);
  });

  it('does not call the strategy again for a warm secret', async () => {
    addCredential();

    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);

    expect(strategy.verifyCalls).toHaveLength(1);
    expect(strategy.afterVerifiedCalls).toHaveLength(1);
    expect(database.lookups()).toHaveLength(3);
  });

  it('verifies again after a rotation and refuses the old secret', async () => {
    const row = addCredential({ secret_version: 1 });
    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);

    const rotated = generateClientSecret(credentialId);
    strategy.current.set(credentialId, rotated);
    row.secret_version = 2;

    const old = await authenticator.authenticate(agentId, secret);
    expect(old).toMatchObject({ ok: false, reason: 'wrong_secret' });
    expect(strategy.verifyCalls).toHaveLength(2);

    const fresh = await authenticator.authenticate(agentId, rotated);
    expect(fresh).toMatchObject({ ok: true, client: { secretVersion: 2 } });
    expect(strategy.verifyCalls).toHaveLength(3);
  });

  it('verifies again when the Vault version of the credential changes', async () => {
    const row = addCredential({
      secret_hash: null,
      vault_path: 'secret/data/agentidp/agents/a/credentials/c',
      vault_version: 3,
    });
    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);

    row.vault_version = 4;
    strategy.current.set(credentialId, 'aidp_someone-else-rewrote-the-vault-secret');

    const result = await authenticator.authenticate(agentId, secret);
    expect(result).toMatchObject({ ok: false, reason: 'wrong_secret' });
    expect(strategy.verifyCalls.map((call) => call.ref.vaultVersion)).toEqual([3, 4]);
  });

  it('shares one strategy call among concurrent cold requests with the same secret', async () => {
    addCredential();
    strategy.hold();

    const pending = [1, 2, 3].map(() => authenticator.authenticate(agentId, secret));
    await flushAsync();
    expect(strategy.verifyCalls).toHaveLength(1);

    strategy.release();
    const results = await Promise.all(pending);

    expect(results.map((result) => result.ok)).toEqual([true, true, true]);
    expect(strategy.verifyCalls).toHaveLength(1);
  });

  it('does not share a verification between different secrets', async () => {
    addCredential();
    strategy.hold();

    const right = authenticator.authenticate(agentId, secret);
    const wrong = authenticator.authenticate(agentId, generateClientSecret(credentialId));
    await flushAsync();
    expect(strategy.verifyCalls).toHaveLength(2);

    strategy.release();
    expect((await right).ok).toBe(true);
    expect(await wrong).toMatchObject({ ok: false, reason: 'wrong_secret' });
  });

  it('calls the strategy again after a verification that threw', async () => {
    addCredential();
    strategy.verifyError = new Error('Vault read failed: timeout');

    await expect(authenticator.authenticate(agentId, secret)).rejects.toThrow(/timeout/);

    strategy.verifyError = undefined;
    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
    expect(strategy.verifyCalls).toHaveLength(2);
  });

  describe('when the stored secret is missing', () => {
    function missingOnce(change: () => void): void {
      strategy.verify = async (ref: SecretRef, presented: string) => {
        strategy.verifyCalls.push({ ref, presented });
        if (strategy.verifyCalls.length === 1) {
          change();
          throw new SecretMissingError(ref.credentialId);
        }
        return strategy.current.get(ref.credentialId) === presented;
      };
    }

    it('answers unknown_client when the credential was deleted meanwhile', async () => {
      addCredential({ vault_path: 'secret/data/x', vault_version: 1 });
      missingOnce(() => database.rows.delete(credentialId));

      const result = await authenticator.authenticate(agentId, secret);

      expect(result).toEqual({ ok: false, reason: 'unknown_client', lockedForSeconds: 0 });
      expect(audit.records).toEqual([]);
    });

    it('checks again against the new version when the credential was rotated meanwhile', async () => {
      addCredential({ vault_path: 'secret/data/x', vault_version: 1 });
      missingOnce(() => addCredential({ vault_path: 'secret/data/x', vault_version: 2 }));

      expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
      expect(strategy.verifyCalls.map((call) => call.ref.vaultVersion)).toEqual([1, 2]);
    });

    it('fails with what the strategy reports for a lost secret when the row has not changed', async () => {
      addCredential({ vault_path: 'secret/data/x', vault_version: 1 });
      strategy.verifyError = new SecretMissingError(credentialId);

      const attempt = authenticator.authenticate(agentId, secret);

      await expect(attempt).rejects.toThrow(`lost ${credentialId}`);
      expect(strategy.verifyCalls).toHaveLength(1);
      expect(strategy.lostCalls).toEqual([
        expect.objectContaining({ credentialId, vaultPath: 'secret/data/x', vaultVersion: 1 }),
      ]);
      expect(lockout.failureCalls).toEqual([]);
    });
  });

  it('counts a wrong secret as a failure and reports the lockout it started', async () => {
    addCredential();
    lockout.lockoutOnFailure = 900;

    const result = await authenticator.authenticate(agentId, generateClientSecret(credentialId));

    expect(result).toEqual({ ok: false, reason: 'wrong_secret', lockedForSeconds: 900 });
    expect(lockout.failureCalls).toEqual([agentId]);
    expect(lockout.successCalls).toEqual([]);
  });

  it('does not remember a wrong secret', async () => {
    addCredential();
    const wrong = generateClientSecret(credentialId);

    await authenticator.authenticate(agentId, wrong);
    await authenticator.authenticate(agentId, wrong);

    expect(strategy.verifyCalls).toHaveLength(2);
  });

  it('clears earlier failures after a success', async () => {
    addCredential();
    await authenticator.authenticate(agentId, generateClientSecret(credentialId));
    await authenticator.authenticate(agentId, generateClientSecret(credentialId));
    expect(lockout.failureCalls).toHaveLength(2);

    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);

    expect(lockout.successCalls).toEqual([agentId]);
  });

  it('does not touch the failure counter on a success with no failures', async () => {
    addCredential();
    expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
    expect(lockout.successCalls).toEqual([]);
    expect(lockout.failureCalls).toEqual([]);
  });

  it('records the last use at most once a minute per credential', async () => {
    addCredential();
    await authenticator.authenticate(agentId, secret);
    await authenticator.flush();
    await authenticator.authenticate(agentId, secret);
    await authenticator.flush();
    jest.spyOn(Date, 'now').mockReturnValue(Date.now() + 61_000);
    await authenticator.authenticate(agentId, secret);
    await authenticator.flush();
    const touches = database.calls.filter((call) => /last_used_at/.test(call.sql));
    expect(touches.map((call) => call.params)).toEqual([[[credentialId]], [[credentialId]]]);
  });

  it('writes every credential due at once in one statement, and nothing when none is due', async () => {
    const first = addCredential();
    const other = randomUUID();
    const otherSecret = generateClientSecret(other);
    strategy.current.set(other, otherSecret);
    addCredential({ id: other });
    await authenticator.authenticate(agentId, secret);
    await authenticator.authenticate(agentId, otherSecret);
    await authenticator.flush();
    await authenticator.flush();
    const touches = database.calls.filter((call) => /last_used_at/.test(call.sql));
    expect(touches).toEqual([{ sql: expect.any(String) as string, params: [[first.id, other]] }]);
  });

  describe('with VAULT_MIGRATE_ON_USE', () => {
    const stored: StoredSecret = {
      secretHash: null,
      vaultPath: 'secret/data/agentidp/agents/a/credentials/c',
      vaultVersion: 1,
    };

    it('moves the verified row only if it is still on bcrypt and at the verified version', async () => {
      addCredential({ secret_version: 7 });
      strategy.migrateTo = stored;

      expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);

      const [update] = database.migrations();
      expect(database.migrations()).toHaveLength(1);
      expect(update.sql).toMatch(
        /WHERE\s+id = \$1\s+AND\s+secret_version = \$4\s+AND\s+vault_path IS NULL/,
      );
      expect(update.sql).toMatch(/vault_path = \$2/);
      expect(update.sql).toMatch(/vault_version = \$3/);
      expect(update.sql).toMatch(/secret_hash = NULL/);
      expect(update.params).toEqual([credentialId, stored.vaultPath, stored.vaultVersion, 7]);
      expect(audit.records).toEqual([
        {
          type: AuditEventType.CredentialMigratedToVault,
          outcome: AuditOutcome.Success,
          targetType: 'credential',
          targetId: credentialId,
          details: { agentId },
        },
      ]);
    });

    it('audits nothing when a concurrent change won and no row moved', async () => {
      addCredential();
      strategy.migrateTo = stored;
      database.migrationAffected = 0;

      expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);

      expect(database.migrations()).toHaveLength(1);
      expect(audit.records).toEqual([]);
    });

    it('still authenticates when the move to Vault fails', async () => {
      addCredential();
      strategy.migrateTo = stored;
      strategy.afterVerifiedError = new Error('Vault write failed: sealed');

      expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
      expect(strategy.afterVerifiedCalls).toHaveLength(1);
      expect(database.migrations()).toEqual([]);
    });

    it('issues no UPDATE when the strategy has nothing to move', async () => {
      addCredential();
      expect((await authenticator.authenticate(agentId, secret)).ok).toBe(true);
      expect(strategy.afterVerifiedCalls).toHaveLength(1);
      expect(database.migrations()).toEqual([]);
    });
  });
});
