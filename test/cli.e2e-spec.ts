import { SIGNING_KEY_PUBLISH_AHEAD_SECONDS, SigningKeysService } from '@agentidp/token';
import { runCli } from '../apps/agentidp/src/cli';
import { createAgent, createCredential } from './support/api';
import { startTestApp, TEST_ENV, type TestApp } from './support/test-app';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { VaultTestServer } from './vault-server/vault-test-server';

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('operator CLI (npm run cli)', () => {
  let database: TestDatabase;
  let vault: VaultTestServer;
  let env: NodeJS.ProcessEnv;

  const cli = async (...args: string[]): Promise<Run> => {
    let out = '';
    let err = '';
    const code = await runCli(args, env, {
      out: (text) => (out += text),
      err: (text) => (err += text),
    });
    return { code, out, err };
  };

  beforeAll(async () => {
    database = await createTestDatabase();
    vault = await VaultTestServer.start();
    env = { ...TEST_ENV, ...database.env, LOG_LEVEL: 'error' };
  });

  afterAll(async () => {
    await vault.stop();
    await database.drop();
  });

  it('prints its help and refuses an unknown command', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const command of [
      'create-admin-credential',
      'rotate-signing-key',
      'verify-audit-chain',
      'credential-storage',
      'vault-token',
    ]) {
      expect(help.out).toContain(command);
    }
    const unknown = await cli('launch-rockets');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('Unknown command');
  });

  it('creates an admin credential that obtains an admin token', async () => {
    const created = await cli('create-admin-credential');
    expect(created.code).toBe(0);
    const credential = JSON.parse(created.out) as { clientId: string; clientSecret: string };
    expect(credential.clientSecret).toMatch(/^aidp_/);

    const t: TestApp = await startTestApp(env as Record<string, string>, database);
    try {
      const response = await t.http
        .post('/api/v1/token')
        .auth(credential.clientId, credential.clientSecret)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expect(response.status).toBe(200);
      expect(response.body.scope).toBe('admin');
      const admin = await t.adminToken();
      await createCredential(t, admin, (await createAgent(t, admin)).id);
    } finally {
      await t.app.close();
    }
  });

  it('rotates the signing key: the new kid is published at once and signs once every replica and cache has it', async () => {
    const before = await cli('rotate-signing-key');
    const after = await cli('rotate-signing-key');
    expect([before.code, after.code]).toEqual([0, 0]);
    const first = (JSON.parse(before.out) as { kid: string }).kid;
    const second = (JSON.parse(after.out) as { kid: string }).kid;
    expect(second).not.toBe(first);
    const t = await startTestApp(env as Record<string, string>, database);
    const signedWith = async () =>
      (
        JSON.parse(Buffer.from((await t.adminToken()).split('.')[0], 'base64url').toString()) as {
          kid: string;
        }
      ).kid;
    try {
      const jwks = await t.http.get('/.well-known/jwks.json');
      const kids = (jwks.body as { keys: { kid: string }[] }).keys.map((key) => key.kid);
      expect(kids).toEqual(expect.arrayContaining([first, second]));
      const previous = await signedWith();
      expect([first, second]).not.toContain(previous);
      expect(kids).toContain(previous);

      // SIGNING_KEY_PUBLISH_AHEAD_SECONDS on (aged in the table rather than waited for).
      await t.dataSource.query(
        `UPDATE signing_keys SET created_at = created_at - make_interval(secs => $1)`,
        [SIGNING_KEY_PUBLISH_AHEAD_SECONDS],
      );
      await t.app.get(SigningKeysService).refresh();
      expect(await signedWith()).toBe(second);
      const later = await t.http.get('/.well-known/jwks.json');
      expect((later.body as { keys: { kid: string }[] }).keys.map((key) => key.kid)).toEqual(
        expect.arrayContaining([previous, first, second]),
      );
    } finally {
      await t.app.close();
    }
  });

  it('rotates a compromised signing key: the new key signs at once and the old ones are withdrawn', async () => {
    const kidOf = (token: string) =>
      (JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { kid: string }).kid;
    const introspect = (t: TestApp, token: string) =>
      t.http
        .post('/api/v1/token/introspect')
        .auth(t.admin.clientId, t.admin.clientSecret)
        .type('form')
        .send({ token });
    // The CLI runs with the server stopped, as the embedded database requires.
    let t = await startTestApp(env as Record<string, string>, database);
    let held: string;
    try {
      held = await t.adminToken();
      expect((await introspect(t, held)).body).toMatchObject({ active: true });
    } finally {
      await t.app.close();
    }

    const rotated = await cli('rotate-signing-key', '--compromised');
    expect(rotated.code).toBe(0);
    const { kid, compromised } = JSON.parse(rotated.out) as { kid: string; compromised: boolean };
    expect(compromised).toBe(true);
    expect(kid).not.toBe(kidOf(held));

    t = await startTestApp(env as Record<string, string>, database);
    try {
      const jwks = await t.http.get('/.well-known/jwks.json');
      expect((jwks.body as { keys: { kid: string }[] }).keys.map((key) => key.kid)).toEqual([kid]);
      expect(kidOf(await t.adminToken())).toBe(kid);
      expect((await introspect(t, held)).body).toEqual({ active: false });
    } finally {
      await t.app.close();
    }
  });

  it('verifies the audit chain, and fails naming the altered event', async () => {
    const intact = await cli('verify-audit-chain');
    expect(intact.code).toBe(0);
    expect(JSON.parse(intact.out)).toMatchObject({ valid: true, firstBrokenId: null });

    const t = await startTestApp(env as Record<string, string>, database);
    try {
      await t.dataSource.query(
        'ALTER TABLE audit_events DISABLE TRIGGER trg_audit_events_append_only',
      );
      await t.dataSource.query(`UPDATE audit_events SET outcome = 'denied' WHERE id = 2`);
      await t.dataSource.query(
        'ALTER TABLE audit_events ENABLE TRIGGER trg_audit_events_append_only',
      );
    } finally {
      await t.app.close();
    }
    const broken = await cli('verify-audit-chain');
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.out)).toMatchObject({ valid: false, firstBrokenId: '2' });
  });

  it('counts credentials by store', async () => {
    // What the table holds (read first: booting a server adds its bootstrap credential).
    const t = await startTestApp(env as Record<string, string>, database);
    let stored: { bcrypt: number; vault: number };
    try {
      [stored] = await t.dataSource.query<{ bcrypt: number; vault: number }[]>(
        `SELECT count(*) FILTER (WHERE vault_path IS NULL)::int AS bcrypt,
                count(*) FILTER (WHERE vault_path IS NOT NULL)::int AS vault
           FROM credentials`,
      );
    } finally {
      await t.app.close();
    }
    const counts = await cli('credential-storage');
    expect(counts.code).toBe(0);
    const parsed = JSON.parse(counts.out) as { bcrypt: number; vault: number };
    expect(parsed).toEqual(stored);
    expect(parsed.bcrypt).toBeGreaterThanOrEqual(2);
  });

  it("shows the Vault token's validity and TTL, and says when Vault is not configured", async () => {
    const none = await cli('vault-token');
    expect(none.code).toBe(1);
    expect(none.err).toContain('not configured');

    const token = vault.createToken({ policies: ['default'], ttlSeconds: 7200, renewable: false });
    env = { ...env, VAULT_ADDR: vault.url, VAULT_TOKEN: token };
    const shown = await cli('vault-token');
    expect(shown.code).toBe(0);
    const state = JSON.parse(shown.out) as {
      valid: boolean;
      ttlSeconds: number;
      renewable: boolean;
    };
    expect(state.valid).toBe(true);
    expect(state.renewable).toBe(false);
    expect(state.ttlSeconds).toBeGreaterThan(7000);
    expect(state.ttlSeconds).toBeLessThanOrEqual(7200);
  });
});
