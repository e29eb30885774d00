import { AuditService } from '@agentidp/audit';
import { bootstrapCredentialId } from '@agentidp/credentials';
import { createAgent, createCredential, requestToken } from './support/api';
import { startTestApp, type TestApp } from './support/test-app';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { VaultTestServer } from './vault-server/vault-test-server';

/** The runbook's least-privilege policy. */
const RUNBOOK_POLICY = `
path "secret/data/agentidp/*" {
  capabilities = ["create", "read", "update", "delete"]
}

path "secret/metadata/agentidp/*" {
  capabilities = ["delete"]
}
`;

const TIMEOUT_MS = 800;

interface CredentialRow {
  vault_path: string | null;
  vault_version: number | null;
  secret_hash: string | null;
}

describe('Vault KV v2 secret storage', () => {
  let vault: VaultTestServer;
  let database: TestDatabase;
  let t: TestApp;
  let admin: string;
  let vaultToken: string;

  const row = async (credentialId: string): Promise<CredentialRow | undefined> =>
    (
      await t.dataSource.query<CredentialRow[]>(
        'SELECT vault_path, vault_version, secret_hash FROM credentials WHERE id = $1',
        [credentialId],
      )
    )[0];

  const vaultEnv = () => ({
    VAULT_ADDR: vault.url,
    VAULT_TOKEN: vaultToken,
    VAULT_KV_MOUNT: 'secret',
    VAULT_TIMEOUT_MS: String(TIMEOUT_MS),
  });

  beforeAll(async () => {
    vault = await VaultTestServer.start();
    vault.writePolicy('agentidp', RUNBOOK_POLICY);
    vaultToken = vault.createToken({ policies: ['agentidp'], ttlSeconds: 3600, renewable: true });
    database = await createTestDatabase();
    // Start in bcrypt mode so that pre-Vault credentials exist, as in a real migration.
    t = await startTestApp({}, database);
  });

  afterAll(async () => {
    await t.close();
    await vault.stop();
    await database.drop();
  });

  let legacy: { clientId: string; clientSecret: string; credentialId: string; agentId: string };

  it('keeps a bcrypt credential created before Vault working after a restart with Vault', async () => {
    admin = await t.adminToken();
    const agent = await createAgent(t, admin);
    legacy = await createCredential(t, admin, agent.id);
    await t.restart(vaultEnv());
    admin = await t.adminToken();
    expect((await requestToken(t, legacy.clientId, legacy.clientSecret)).status).toBe(200);
    expect((await row(legacy.credentialId))?.vault_path).toBeNull();
  });

  it('writes a new secret to exactly the runbook path with a policy-restricted token', async () => {
    const agent = await createAgent(t, admin);
    vault.clearRequests();
    const credential = await createCredential(t, admin, agent.id);

    const key = `agentidp/agents/${agent.id}/credentials/${credential.credentialId}`;
    const stored = vault.readKv('secret', key);
    expect(stored?.currentVersion).toBe(1);
    expect(stored?.versions[1].data).toEqual({ clientSecret: credential.clientSecret });
    expect(await row(credential.credentialId)).toEqual({
      vault_path: `secret/data/${key}`,
      vault_version: 1,
      secret_hash: null,
    });
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(200);
    // Least privilege: nothing outside the policy was touched.
    for (const request of vault.requests) {
      expect(request.path).toMatch(
        /^(secret\/(data|metadata)\/agentidp\/|auth\/token\/(lookup|renew)-self|sys\/health)/,
      );
      expect(request.status).toBeLessThan(400);
    }
  });

  it('rotates to a new KV version, rejects the old secret and keeps the old version in history', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const rotated = await t.http
      .post(`/api/v1/agents/${agent.id}/credentials/${credential.credentialId}/rotate`)
      .set('authorization', `Bearer ${admin}`);
    expect(rotated.status).toBe(200);
    const key = `agentidp/agents/${agent.id}/credentials/${credential.credentialId}`;
    const stored = vault.readKv('secret', key);
    expect(stored?.currentVersion).toBe(2);
    expect(stored?.versions[1].data).toEqual({ clientSecret: credential.clientSecret });
    expect((await row(credential.credentialId))?.vault_version).toBe(2);
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).body.error).toBe(
      'invalid_client',
    );
    expect(
      (await requestToken(t, credential.clientId, rotated.body.clientSecret as string)).status,
    ).toBe(200);
  });

  it('removes every version on delete, and for each credential of a deleted agent', async () => {
    const agent = await createAgent(t, admin);
    const first = await createCredential(t, admin, agent.id);
    const second = await createCredential(t, admin, agent.id);
    await t.http
      .post(`/api/v1/agents/${agent.id}/credentials/${first.credentialId}/rotate`)
      .set('authorization', `Bearer ${admin}`);
    const deleted = await t.http
      .delete(`/api/v1/agents/${agent.id}/credentials/${first.credentialId}`)
      .set('authorization', `Bearer ${admin}`);
    expect(deleted.status).toBe(204);
    expect(
      vault.readKv('secret', `agentidp/agents/${agent.id}/credentials/${first.credentialId}`),
    ).toBeUndefined();

    expect(
      (await t.http.delete(`/api/v1/agents/${agent.id}`).set('authorization', `Bearer ${admin}`))
        .status,
    ).toBe(204);
    expect(
      vault.readKv('secret', `agentidp/agents/${agent.id}/credentials/${second.credentialId}`),
    ).toBeUndefined();
    expect((await requestToken(t, second.clientId, second.clientSecret)).body.error).toBe(
      'invalid_client',
    );
  });

  it('moves a bcrypt credential into Vault when it is rotated', async () => {
    const rotated = await t.http
      .post(`/api/v1/agents/${legacy.agentId}/credentials/${legacy.credentialId}/rotate`)
      .set('authorization', `Bearer ${admin}`);
    expect(rotated.status).toBe(200);
    const after = await row(legacy.credentialId);
    expect(after?.vault_path).toBe(
      `secret/data/agentidp/agents/${legacy.agentId}/credentials/${legacy.credentialId}`,
    );
    expect(after?.secret_hash).toBeNull();
    expect(
      (await requestToken(t, legacy.clientId, rotated.body.clientSecret as string)).status,
    ).toBe(200);
  });

  it('serves a warm Vault-backed token request without a Vault round trip', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(200);
    vault.clearRequests();
    for (let i = 0; i < 3; i += 1) {
      expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(
        200,
      );
    }
    expect(
      vault.requests.filter((request) => request.path.includes(credential.credentialId)),
    ).toEqual([]);
  });

  it('fails with VAULT_READ_ERROR and VAULT_WRITE_ERROR while Vault is down, and bcrypt keeps working', async () => {
    const bcryptAgent = await createAgent(t, admin);
    // A bcrypt credential created while Vault is off (the other mode), then Vault on again.
    await t.restart({ VAULT_ADDR: '', VAULT_TOKEN: '' });
    admin = await t.adminToken();
    const bcryptCredential = await createCredential(t, admin, bcryptAgent.id);
    await t.restart(vaultEnv());
    admin = await t.adminToken();

    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const countBefore = await t.dataSource.query<{ count: string }[]>(
      'SELECT count(*) FROM credentials',
    );

    let read: Awaited<ReturnType<typeof requestToken>>;
    await vault.stop();
    try {
      const started = Date.now();
      // Never used yet, so not in the verified-secret cache: the check needs Vault.
      read = await requestToken(t, credential.clientId, credential.clientSecret);
      expect(read.status).toBe(500);
      expect(read.body).toMatchObject({ error: 'server_error', code: 'VAULT_READ_ERROR' });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1000);

      expect(
        (await requestToken(t, bcryptCredential.clientId, bcryptCredential.clientSecret)).status,
      ).toBe(200);

      const write = await t.http
        .post(`/api/v1/agents/${agent.id}/credentials`)
        .set('authorization', `Bearer ${admin}`);
      expect(write.status).toBe(500);
      expect(write.body.code).toBe('VAULT_WRITE_ERROR');
      expect(await t.dataSource.query('SELECT count(*) FROM credentials')).toEqual(countBefore);

      const health = await t.http.get('/health/ready');
      expect(health.status).toBe(503);
      expect(health.body.details.vault.status).toBe('down');
    } finally {
      await vault.restart();
    }

    let sealed: Awaited<ReturnType<typeof requestToken>>;
    vault.seal();
    try {
      sealed = await t.http
        .post(`/api/v1/agents/${agent.id}/credentials/${credential.credentialId}/rotate`)
        .set('authorization', `Bearer ${admin}`);
      expect(sealed.status).toBe(500);
      expect(sealed.body.code).toBe('VAULT_WRITE_ERROR');
    } finally {
      vault.unseal();
    }
    // Nothing was lost: the credential still works with its original secret.
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(200);

    // Each failure is audited as part of the request that met it (its id is in the answer).
    await t.app.get(AuditService).flush();
    const vaultErrors = await t.dataSource.query<{ request_id: string; details: object }[]>(
      `SELECT request_id, details FROM audit_events
        WHERE type = 'vault.error' AND target_id = $1 ORDER BY id`,
      [credential.credentialId],
    );
    expect(vaultErrors).toEqual([
      {
        request_id: read.headers['x-request-id'],
        details: expect.objectContaining({ operation: 'read', kind: 'unreachable' }) as object,
      },
      {
        request_id: sealed.headers['x-request-id'],
        details: expect.objectContaining({ operation: 'write', kind: 'sealed' }) as object,
      },
    ]);
  });

  it('bounds every request by VAULT_TIMEOUT_MS when Vault is slow', async () => {
    const agent = await createAgent(t, admin);
    vault.setLatency(TIMEOUT_MS * 3);
    try {
      const started = Date.now();
      const response = await t.http
        .post(`/api/v1/agents/${agent.id}/credentials`)
        .set('authorization', `Bearer ${admin}`);
      expect(response.body.code).toBe('VAULT_WRITE_ERROR');
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1000);
    } finally {
      vault.setLatency(0);
    }
    // A timed-out write may still land in Vault (as with a slow real Vault); no row points at it.
    const rows = await t.dataSource.query<unknown[]>(
      'SELECT id FROM credentials WHERE agent_id = $1',
      [agent.id],
    );
    expect(rows).toEqual([]);
  });

  it('denies with 403 are write errors too (token without the policy)', async () => {
    const weak = vault.createToken({ policies: [], ttlSeconds: 3600 });
    await t.restart({ ...vaultEnv(), VAULT_TOKEN: weak });
    admin = await t.adminToken();
    const agent = await createAgent(t, admin);
    const response = await t.http
      .post(`/api/v1/agents/${agent.id}/credentials`)
      .set('authorization', `Bearer ${admin}`);
    expect(response.status).toBe(500);
    expect(response.body.code).toBe('VAULT_WRITE_ERROR');
    await t.restart(vaultEnv());
    admin = await t.adminToken();
  });

  it('renews its own renewable token and reports the TTL in readiness', async () => {
    const short = vault.createToken({ policies: ['agentidp'], ttlSeconds: 60, renewable: true });
    vault.advanceClock(0);
    await t.restart({ ...vaultEnv(), VAULT_TOKEN: short, VAULT_RENEW_INCREMENT_SECONDS: '7200' });
    admin = await t.adminToken();
    vault.advanceClock(40_000);
    const ready = await t.http.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details.vault.tokenValid).toBe(true);
    expect(ready.body.details.vault.tokenTtlSeconds).toBeGreaterThan(3600);
    expect(vault.tokenTtl(short)).toBeGreaterThan(3600);
  });

  it('migrates a bcrypt credential on successful use with VAULT_MIGRATE_ON_USE', async () => {
    await t.restart({ VAULT_ADDR: '', VAULT_TOKEN: '' });
    admin = await t.adminToken();
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    await t.restart({ ...vaultEnv(), VAULT_MIGRATE_ON_USE: 'true' });
    admin = await t.adminToken();

    expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(200);
    const after = await row(credential.credentialId);
    expect(after?.secret_hash).toBeNull();
    expect(after?.vault_path).toContain(credential.credentialId);
    expect(
      vault.readKv('secret', `agentidp/agents/${agent.id}/credentials/${credential.credentialId}`)
        ?.versions[1].data,
    ).toEqual({
      clientSecret: credential.clientSecret,
    });
    // Same secret, no client change.
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(200);
  });
  it('restores a bootstrap admin secret that went missing from Vault at the next start', async () => {
    await t.restart(vaultEnv());
    admin = await t.adminToken();
    // Rotating moves the bootstrap credential into Vault; the next start puts the pinned secret back.
    const agentId = t.admin.clientId;
    const credentialId = bootstrapCredentialId(agentId);
    const rotated = await t.http
      .post(`/api/v1/agents/${agentId}/credentials/${credentialId}/rotate`)
      .set('authorization', `Bearer ${admin}`);
    expect(rotated.status).toBe(200);
    await t.restart(vaultEnv());
    const key = `agentidp/agents/${agentId}/credentials/${credentialId}`;
    expect(vault.readKv('secret', key)).toBeDefined();

    // Gone behind the server's back, then a restart: not a failed boot, the secret is rewritten.
    const root = vault.createToken({ policies: ['root'], ttlSeconds: 600, renewable: false });
    const removed = await fetch(`${vault.url}/v1/secret/metadata/${key}`, {
      method: 'DELETE',
      headers: { 'x-vault-token': root },
    });
    expect(removed.status).toBe(204);
    expect(vault.readKv('secret', key)).toBeUndefined();
    await t.restart(vaultEnv());
    expect(vault.readKv('secret', key)).toBeDefined();
    expect((await requestToken(t, t.admin.clientId, t.admin.clientSecret)).status).toBe(200);
  });
});
