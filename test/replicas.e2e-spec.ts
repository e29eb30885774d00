import { AuditService } from '@agentidp/audit';
import { generateClientSecret } from '@agentidp/credentials';
import { SigningKeysService } from '@agentidp/token';
import { createPublicKey, randomBytes, randomUUID, verify } from 'node:crypto';
import { runCli } from '../apps/agentidp/src/cli';
import { migrations } from '../migrations';
import {
  createAgent,
  createCredential,
  requestToken,
  tokenFor,
  type CreatedCredential,
} from './support/api';
import { COUNTER_STORES } from './support/counter-stores';
import { startTestApp, TEST_ENV, type TestApp } from './support/test-app';
import { createTestDatabase, type TestDatabase } from './support/test-database';
import { eventually } from './support/eventually';
import { VaultTestServer } from './vault-server/vault-test-server';

/**
 * Several AgentIdP replicas in this process, sharing one PostgreSQL database (and, where it says
 * so, one Vault or one Redis), as behind a load balancer. The embedded database serves a single
 * process, so this needs DATABASE_URL.
 */
const adminUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const describeWithPostgres = adminUrl ? describe : describe.skip;
if (!adminUrl) {
  console.info(
    'replicas.e2e-spec skipped: several replicas need a shared PostgreSQL (set DATABASE_URL)',
  );
}

/** How often the docs say a replica re-reads the signing keys (docs/architecture.md). */
const SIGNING_KEY_REFRESH_MS = 30_000;

interface Jwk {
  kid: string;
  kty: string;
  crv: string;
  x: string;
  y: string;
}

/** One deployment: every replica gets the same environment, as from one ConfigMap and Secret. */
function deploymentEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PUBLIC_URL: 'https://idp.example.test',
    BOOTSTRAP_ADMIN_CLIENT_ID: randomUUID(),
    BOOTSTRAP_ADMIN_CLIENT_SECRET: `admin-secret-${randomBytes(24).toString('hex')}`,
    ...extra,
  };
}

/** What each replica scheduled with setInterval while it booted: its periodic work. */
const periodicTasks = new Map<TestApp, { periodMs: number; run: () => void }[]>();

/** Boots one replica (sequentially: its timers are attributed to it). */
async function startReplica(env: Record<string, string>, database: TestDatabase): Promise<TestApp> {
  const scheduled = jest.spyOn(globalThis, 'setInterval');
  try {
    const t = await startTestApp(env, database);
    periodicTasks.set(
      t,
      scheduled.mock.calls.map((call) => ({
        run: call[0],
        periodMs: Number(call[1] ?? 0),
      })),
    );
    return t;
  } finally {
    scheduled.mockRestore();
  }
}

/** Runs a replica's periodic work whose period is at most `boundMs`, as if that time had passed. */
function letTimePass(t: TestApp, boundMs: number): void {
  const due = (periodicTasks.get(t) ?? []).filter((task) => task.periodMs <= boundMs);
  expect(due.length).toBeGreaterThan(0);
  for (const task of due) task.run();
}

async function jwks(t: TestApp): Promise<Jwk[]> {
  const response = await t.http.get('/.well-known/jwks.json');
  expect(response.status).toBe(200);
  return (response.body as { keys: Jwk[] }).keys;
}

function kidOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { kid: string })
    .kid;
}

/** What a resource server does: find the key by `kid` in the key set and check the ES256 signature. */
function verifiesWith(keys: Jwk[], token: string): boolean {
  const [header, payload, signature] = token.split('.');
  const jwk = keys.find((key) => key.kid === kidOf(token));
  if (!jwk) return false;
  const key = createPublicKey({
    key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y },
    format: 'jwk',
  });
  return verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
}

/** RFC 7662 introspection on one replica, authenticated as the (shared) admin client. */
async function isActive(t: TestApp, token: string): Promise<boolean> {
  const response = await t.http
    .post('/api/v1/token/introspect')
    .auth(t.admin.clientId, t.admin.clientSecret)
    .type('form')
    .send({ token });
  expect(response.status).toBe(200);
  return (response.body as { active: boolean }).active;
}

/**
 * Every token verifies against the key set of every replica and introspects active on every
 * replica: what a resource server behind the load balancer relies on.
 */
async function expectValidEverywhere(
  replicas: Record<string, TestApp>,
  tokens: Record<string, string>,
): Promise<void> {
  const seen: { replica: string; token: string; kid: string; jwks: boolean; active: boolean }[] =
    [];
  for (const [replica, t] of Object.entries(replicas)) {
    const keys = await jwks(t);
    for (const [name, token] of Object.entries(tokens)) {
      seen.push({
        replica,
        token: name,
        kid: kidOf(token),
        jwks: verifiesWith(keys, token),
        active: await isActive(t, token),
      });
    }
  }
  expect(seen).toEqual(seen.map((entry) => ({ ...entry, jwks: true, active: true })));
}

async function flushAll(...replicas: TestApp[]): Promise<void> {
  await Promise.all(replicas.map((t) => t.app.get(AuditService).flush()));
}

async function verifyChain(
  t: TestApp,
  bearer: string,
): Promise<{ valid: boolean; checked: number; firstBrokenId: string | null }> {
  const response = await t.http
    .get('/api/v1/audit-events/verify')
    .set('authorization', `Bearer ${bearer}`);
  expect(response.status).toBe(200);
  return response.body as { valid: boolean; checked: number; firstBrokenId: string | null };
}

/** Waits for the start of a wall-clock second, so the next few requests fall within one second. */
async function startOfASecond(): Promise<void> {
  while (Date.now() % 1000 > 100) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Rotates one credential on A and on B at the same moment; returns both new secrets. */
async function rotateOnBoth(
  a: TestApp,
  b: TestApp,
  credential: CreatedCredential,
): Promise<string[]> {
  const path = `/api/v1/agents/${credential.agentId}/credentials/${credential.credentialId}/rotate`;
  const [adminA, adminB] = await Promise.all([a.adminToken(), b.adminToken()]);
  const responses = await Promise.all([
    a.http.post(path).set('authorization', `Bearer ${adminA}`),
    b.http.post(path).set('authorization', `Bearer ${adminB}`),
  ]);
  expect(responses.map((response) => response.status)).toEqual([200, 200]);
  return responses.map((response) => response.body.clientSecret as string);
}

/**
 * Exactly one of the two new secrets works, on every replica; the other and the original do not.
 * (Tried in an order that keeps the client under the lockout limit whichever secret won.)
 */
async function expectOneWinner(
  replicas: TestApp[],
  credential: CreatedCredential,
  rotated: string[],
): Promise<void> {
  const seen: number[][] = [];
  for (const t of replicas) {
    const statuses: number[] = [];
    for (const secret of [...rotated, credential.clientSecret]) {
      statuses.push((await requestToken(t, credential.clientId, secret)).status);
    }
    seen.push(statuses);
  }
  const winner = seen[0][0] === 200 ? [200, 401, 401] : [401, 200, 401];
  expect(seen).toEqual(replicas.map(() => winner));
}

/** A well-formed secret naming the same credential, but not its secret. */
function wrongSecretFor(credential: CreatedCredential): string {
  return generateClientSecret(credential.credentialId);
}

describeWithPostgres('several replicas on one PostgreSQL (needs DATABASE_URL)', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let a: TestApp;
  let b: TestApp;
  let adminA: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    env = deploymentEnv({ LOCKOUT_MAX_FAILURES: '3', LOCKOUT_WINDOW_SECONDS: '60' });
    a = await startReplica(env, database);
    b = await startReplica(env, database);
    adminA = await a.adminToken();
  });

  afterAll(async () => {
    await a?.app.close();
    await b?.app.close();
    await database?.drop();
  });

  /** An agent and a credential, created through replica A. */
  async function client(): Promise<CreatedCredential> {
    const agent = await createAgent(a, adminA);
    return createCredential(a, adminA, agent.id);
  }

  /** A successful grant on `t`: the replica has now verified the secret and cached it. */
  async function warm(t: TestApp, credential: CreatedCredential): Promise<string> {
    return tokenFor(t, credential.clientId, credential.clientSecret);
  }

  /** `npm run cli -- rotate-signing-key [args]` against the shared database; the new key's kid. */
  async function rotateSigningKeyWithCli(...args: string[]): Promise<string> {
    let out = '';
    const code = await runCli(
      ['rotate-signing-key', ...args],
      { ...TEST_ENV, ...database.env, ...env },
      { out: (text) => (out += text), err: () => undefined },
    );
    expect(code).toBe(0);
    return (JSON.parse(out) as { kid: string }).kid;
  }

  /** Whether both replicas come to sign `credential`'s tokens with `kid` within `timeoutMs`. */
  async function bothSignWith(
    kid: string,
    credential: CreatedCredential,
    timeoutMs?: number,
  ): Promise<boolean> {
    for (const t of [a, b]) {
      const signs = await eventually(
        async () => kidOf(await tokenFor(t, credential.clientId, credential.clientSecret)) === kid,
        timeoutMs,
      );
      if (!signs) return false;
    }
    return true;
  }

  it('accepts on B a token issued by A, and both serve the same key set', async () => {
    const credential = await client();
    const fromA = await tokenFor(a, credential.clientId, credential.clientSecret);
    const fromB = await tokenFor(b, credential.clientId, credential.clientSecret);

    const keysA = await jwks(a);
    const keysB = await jwks(b);
    expect(keysA.length).toBeGreaterThan(0);
    expect(keysB).toEqual(keysA);
    await expectValidEverywhere({ A: a, B: b }, { fromA, fromB });

    const introspected = await b.http
      .post('/api/v1/token/introspect')
      .auth(b.admin.clientId, b.admin.clientSecret)
      .type('form')
      .send({ token: fromA });
    expect(introspected.body).toMatchObject({ active: true, client_id: credential.agentId });
    // A bearer token from A opens B's management API.
    const self = await b.http
      .get(`/api/v1/agents/${credential.agentId}`)
      .set('authorization', `Bearer ${fromA}`);
    expect(self.status).toBe(200);
  });

  it('sees on B, on the very next request, a token revoked on A', async () => {
    const credential = await client();
    const token = await tokenFor(b, credential.clientId, credential.clientSecret);
    expect(await isActive(b, token)).toBe(true);

    const revoked = await a.http
      .post('/api/v1/token/revoke')
      .auth(credential.clientId, credential.clientSecret)
      .type('form')
      .send({ token });
    expect(revoked.status).toBe(200);

    expect(await isActive(b, token)).toBe(false);
    const bearer = await b.http
      .get(`/api/v1/agents/${credential.agentId}`)
      .set('authorization', `Bearer ${token}`);
    expect(bearer.status).toBe(401);
  });

  it('refuses on B, on the very next request, a client whose agent A suspended (B had its secret cached)', async () => {
    const credential = await client();
    const held = await warm(b, credential);
    await warm(b, credential);

    const suspended = await a.http
      .patch(`/api/v1/agents/${credential.agentId}`)
      .set('authorization', `Bearer ${adminA}`)
      .send({ status: 'suspended' });
    expect(suspended.status).toBe(200);

    const refused = await requestToken(b, credential.clientId, credential.clientSecret);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('unauthorized_client');
    expect(await isActive(b, held)).toBe(false);

    const reactivated = await a.http
      .patch(`/api/v1/agents/${credential.agentId}`)
      .set('authorization', `Bearer ${adminA}`)
      .send({ status: 'active' });
    expect(reactivated.status).toBe(200);
    expect((await requestToken(b, credential.clientId, credential.clientSecret)).status).toBe(200);
  });

  it('refuses on B the old secret of a credential rotated on A, and accepts the new one', async () => {
    const credential = await client();
    const held = await warm(b, credential);

    const rotated = await a.http
      .post(`/api/v1/agents/${credential.agentId}/credentials/${credential.credentialId}/rotate`)
      .set('authorization', `Bearer ${adminA}`);
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.clientSecret as string;

    const old = await requestToken(b, credential.clientId, credential.clientSecret);
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_client');
    // Tokens obtained with the old secret end with it.
    expect(await isActive(b, held)).toBe(false);
    expect((await requestToken(b, credential.clientId, newSecret)).status).toBe(200);
    expect((await requestToken(a, credential.clientId, newSecret)).status).toBe(200);
  });

  it('issues on B, right after A reactivates a suspended agent, tokens that are active everywhere', async () => {
    const credential = await client();
    const patch = (status: string) =>
      a.http
        .patch(`/api/v1/agents/${credential.agentId}`)
        .set('authorization', `Bearer ${adminA}`)
        .send({ status });
    // A quick suspend-and-undo falls within one wall-clock second by chance; here on purpose.
    await startOfASecond();
    expect((await patch('suspended')).status).toBe(200);
    expect((await patch('active')).status).toBe(200);
    const token = await tokenFor(b, credential.clientId, credential.clientSecret);
    await expectValidEverywhere({ A: a, B: b }, { issuedAfterReactivation: token });
  });

  it('serialises rotations of one credential started on A and B at once: one secret wins everywhere', async () => {
    const credential = await client();
    await warm(b, credential);
    await expectOneWinner([a, b], credential, await rotateOnBoth(a, b, credential));
  });

  it('refuses on B a bootstrap admin secret deleted on A, after a restarting replica re-creates the credential with a new secret', async () => {
    // A second deployment-wide admin, pinned like the first: BOOTSTRAP_ADMIN_* in the Secret.
    const pinned = deploymentEnv({ ...env, BOOTSTRAP_ADMIN_CLIENT_ID: randomUUID() });
    const oldSecret = pinned.BOOTSTRAP_ADMIN_CLIENT_SECRET;
    const first = await startTestApp(pinned, database);
    await first.app.close();
    // B verifies (and caches) the secret; an access token obtained with it is held somewhere.
    const held = await tokenFor(b, pinned.BOOTSTRAP_ADMIN_CLIENT_ID, oldSecret);

    // The secret leaked: the operator deletes the credential on A and puts a new secret in the Secret.
    const listed = await a.http
      .get(`/api/v1/agents/${pinned.BOOTSTRAP_ADMIN_CLIENT_ID}/credentials`)
      .set('authorization', `Bearer ${adminA}`);
    const [credential] = (listed.body as { items: { credentialId: string }[] }).items;
    const deleted = await a.http
      .delete(
        `/api/v1/agents/${pinned.BOOTSTRAP_ADMIN_CLIENT_ID}/credentials/${credential.credentialId}`,
      )
      .set('authorization', `Bearer ${adminA}`);
    expect(deleted.status).toBe(204);
    expect((await requestToken(b, pinned.BOOTSTRAP_ADMIN_CLIENT_ID, oldSecret)).status).toBe(401);
    expect(await isActive(b, held)).toBe(false);

    // A replica restarts with the new Secret and re-creates the bootstrap credential; B has not
    // restarted yet.
    const newSecret = `admin-secret-${randomBytes(24).toString('hex')}`;
    const restarted = await startTestApp(
      { ...pinned, BOOTSTRAP_ADMIN_CLIENT_SECRET: newSecret },
      database,
    );
    try {
      // Neither the deleted secret nor a token issued with it comes back to life.
      const leaked = await requestToken(b, pinned.BOOTSTRAP_ADMIN_CLIENT_ID, oldSecret);
      expect({ deletedSecretOnB: leaked.status, heldTokenActive: await isActive(a, held) }).toEqual(
        { deletedSecretOnB: 401, heldTokenActive: false },
      );
      expect((await requestToken(b, pinned.BOOTSTRAP_ADMIN_CLIENT_ID, newSecret)).status).toBe(200);
    } finally {
      await restarted.app.close();
    }
  });

  it('refuses on B a credential deleted on A, and every credential of an agent deleted on A', async () => {
    const credential = await client();
    const held = await warm(b, credential);
    const deleted = await a.http
      .delete(`/api/v1/agents/${credential.agentId}/credentials/${credential.credentialId}`)
      .set('authorization', `Bearer ${adminA}`);
    expect(deleted.status).toBe(204);
    const refused = await requestToken(b, credential.clientId, credential.clientSecret);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    expect(await isActive(b, held)).toBe(false);

    const doomed = await client();
    const second = await createCredential(a, adminA, doomed.agentId);
    const heldByDoomed = await warm(b, doomed);
    await warm(b, second);
    const gone = await a.http
      .delete(`/api/v1/agents/${doomed.agentId}`)
      .set('authorization', `Bearer ${adminA}`);
    expect(gone.status).toBe(204);
    for (const each of [doomed, second]) {
      const response = await requestToken(b, each.clientId, each.clientSecret);
      expect(response.status).toBe(401);
      expect(response.body.error).toBe('invalid_client');
    }
    expect(await isActive(b, heldByDoomed)).toBe(false);
  });

  it('rotates the signing key (operator CLI) without a token that some replica cannot verify', async () => {
    const credential = await client();
    const oldToken = await tokenFor(a, credential.clientId, credential.clientSecret);
    const oldKid = kidOf(oldToken);
    const mint = async () => ({
      fromA: await tokenFor(a, credential.clientId, credential.clientSecret),
      fromB: await tokenFor(b, credential.clientId, credential.clientSecret),
    });

    // B's periodic re-read happens to run just before the operator rotates.
    letTimePass(b, SIGNING_KEY_REFRESH_MS);
    const newKid = await rotateSigningKeyWithCli();
    expect(newKid).not.toBe(oldKid);
    await expectValidEverywhere({ A: a, B: b }, { oldToken, ...(await mint()) });

    // A's periodic re-read comes first: A publishes the new key. Whatever A signs with now, B
    // (its key set and its introspection) must accept: the load balancer sends the next
    // resource-server request to either.
    letTimePass(a, SIGNING_KEY_REFRESH_MS);
    expect(await eventually(async () => (await jwks(a)).some((key) => key.kid === newKid))).toBe(
      true,
    );
    await expectValidEverywhere({ A: a, B: b }, { oldToken, ...(await mint()) });

    // Then B's: both publish the same set, old key included.
    letTimePass(b, SIGNING_KEY_REFRESH_MS);
    expect(await eventually(async () => (await jwks(b)).some((key) => key.kid === newKid))).toBe(
      true,
    );
    expect(await jwks(b)).toEqual(await jwks(a));
    expect((await jwks(a)).map((key) => key.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
    await expectValidEverywhere({ A: a, B: b }, { oldToken, ...(await mint()) });

    // Ten minutes on (aged in the table rather than waited for), after the next re-reads, both
    // replicas sign with the new key, and the old key's tokens still verify everywhere.
    await a.dataSource.query(
      `UPDATE signing_keys SET created_at = created_at - interval '10 minutes',
              retired_at = retired_at - interval '10 minutes',
              expires_at = expires_at - interval '10 minutes'`,
    );
    letTimePass(a, SIGNING_KEY_REFRESH_MS);
    letTimePass(b, SIGNING_KEY_REFRESH_MS);
    expect(
      await eventually(async () => {
        const { fromA, fromB } = await mint();
        return kidOf(fromA) === newKid && kidOf(fromB) === newKid;
      }),
    ).toBe(true);
    await expectValidEverywhere({ A: a, B: b }, { oldToken, ...(await mint()) });
  });

  it('rotates automatically (SIGNING_KEY_ROTATION_DAYS) once, when both replicas find the key due at once', async () => {
    const credential = await client();
    const countKeys = async () =>
      Number(
        (
          await a.dataSource.query<{ count: string }[]>(
            'SELECT count(*) AS count FROM signing_keys',
          )
        )[0].count,
      );
    const before = await countKeys();
    const signing = kidOf(await tokenFor(a, credential.clientId, credential.clientSecret));
    // 91 days on for the keys (SIGNING_KEY_ROTATION_DAYS is 90); both replicas re-read together.
    await a.dataSource.query(
      `UPDATE signing_keys SET created_at = created_at - interval '91 days'`,
    );
    letTimePass(a, SIGNING_KEY_REFRESH_MS);
    letTimePass(b, SIGNING_KEY_REFRESH_MS);
    expect(await eventually(async () => (await countKeys()) > before)).toBe(true);
    expect(
      await eventually(async () => {
        const [keysA, keysB] = [await jwks(a), await jwks(b)];
        return keysA.length === before + 1 && JSON.stringify(keysA) === JSON.stringify(keysB);
      }),
    ).toBe(true);
    expect(await countKeys()).toBe(before + 1);
    const fromA = await tokenFor(a, credential.clientId, credential.clientSecret);
    const fromB = await tokenFor(b, credential.clientId, credential.clientSecret);
    await expectValidEverywhere({ A: a, B: b }, { fromA, fromB });
    expect([kidOf(fromA), kidOf(fromB)]).toEqual([signing, signing]);
  });

  it('keeps one intact audit chain while both replicas write concurrently', async () => {
    const adminB = await b.adminToken();
    const credential = await client();
    const grants = (t: TestApp) =>
      Array.from({ length: 50 }, () =>
        requestToken(t, credential.clientId, credential.clientSecret),
      );
    const creations = (t: TestApp, admin: string) =>
      Array.from({ length: 10 }, (_, index) =>
        t.http
          .post('/api/v1/agents')
          .set('authorization', `Bearer ${admin}`)
          .send({ name: `concurrent-${index}`, allowedScopes: ['read'] }),
      );
    const responses = await Promise.all([
      ...grants(a),
      ...creations(a, adminA),
      ...grants(b),
      ...creations(b, adminB),
    ]);
    expect(responses.map((response) => response.status).sort()).toEqual([
      ...new Array<number>(100).fill(200),
      ...new Array<number>(20).fill(201),
    ]);
    const created = responses
      .filter((response) => response.status === 201)
      .map((response) => (response.body as { id: string }).id);

    // Bearer tokens first: getting one is audited too, and nothing may be added after the count.
    const bearers = [await a.adminToken(), await b.adminToken()];
    await flushAll(a, b);
    const [{ count, max }] = await a.dataSource.query<{ count: string; max: string }[]>(
      'SELECT count(*) AS count, max(id) AS max FROM audit_events',
    );
    for (const [index, t] of [a, b].entries()) {
      expect(await verifyChain(t, bearers[index])).toEqual({
        valid: true,
        checked: Number(count),
        firstBrokenId: null,
      });
    }
    expect(max).toBe(count);
    const issued = await a.dataSource.query<{ count: string }[]>(
      `SELECT count(*) AS count FROM audit_events WHERE type = 'token.issued' AND actor_agent_id = $1`,
      [credential.agentId],
    );
    expect(Number(issued[0].count)).toBe(100);
    const agentEvents = await a.dataSource.query<{ count: string }[]>(
      `SELECT count(*) AS count FROM audit_events WHERE type = 'agent.created' AND target_id = ANY($1)`,
      [created],
    );
    expect(Number(agentEvents[0].count)).toBe(20);
  });

  // Last in this block: it withdraws every key that signed the tokens held above.
  it('takes a compromised signing key out of service on every replica at once, with no periodic re-read', async () => {
    const credential = await client();
    const held = await tokenFor(a, credential.clientId, credential.clientSecret);
    expect(await isActive(b, held)).toBe(true);
    const newKid = await rotateSigningKeyWithCli('--compromised');
    // No letTimePass: the replicas learn of the rotation from its notification.
    expect(await bothSignWith(newKid, credential)).toBe(true);
    for (const t of [a, b]) {
      expect((await jwks(t)).map((key) => key.kid)).toEqual([newKid]);
      expect(await isActive(t, held)).toBe(false);
    }
    adminA = await a.adminToken();
  });

  it('listens again after losing its connection, and catches up with what it missed', async () => {
    const credential = await client();
    const listeners = `SELECT pid FROM pg_stat_activity
                        WHERE datname = current_database() AND query = 'LISTEN agentidp_signing_keys'`;
    expect(await a.dataSource.query(listeners)).toHaveLength(2);
    // An administrator (or a failover) ends both replicas' listening sessions...
    await a.dataSource.query(`SELECT pg_terminate_backend(pid) FROM (${listeners}) AS l`);
    expect(await eventually(async () => (await a.dataSource.query(listeners)).length === 0)).toBe(
      true,
    );
    // ...and A rotates a compromised key at once, well before the first retry (1 s): B's
    // notification is lost, and only the re-read B does on reconnecting can bring the new key.
    const newKid = await a.app.get(SigningKeysService).rotate({ compromised: true });
    expect(await bothSignWith(newKid, credential, 10_000)).toBe(true);
    expect(await eventually(async () => (await a.dataSource.query(listeners)).length === 2)).toBe(
      true,
    );
    adminA = await a.adminToken();
  });

  describe('in Vault mode, with one Vault for both replicas', () => {
    let vault: VaultTestServer;
    let va: TestApp;
    let vb: TestApp;
    let admin: string;

    beforeAll(async () => {
      vault = await VaultTestServer.start();
      const vaultEnv = {
        ...env,
        VAULT_ADDR: vault.url,
        VAULT_TOKEN: vault.createToken({ policies: ['root'], ttlSeconds: 3600, renewable: true }),
      };
      va = await startReplica(vaultEnv, database);
      vb = await startReplica(vaultEnv, database);
      admin = await va.adminToken();
    });

    afterAll(async () => {
      await va?.app.close();
      await vb?.app.close();
      await vault?.stop();
    });

    it('serialises rotations started on A and B at once: one KV version per rotation, one secret wins', async () => {
      const agent = await createAgent(va, admin);
      const credential = await createCredential(va, admin, agent.id);
      await tokenFor(vb, credential.clientId, credential.clientSecret);
      await expectOneWinner([va, vb], credential, await rotateOnBoth(va, vb, credential));
      expect(
        vault.readKv('secret', `agentidp/agents/${agent.id}/credentials/${credential.credentialId}`)
          ?.currentVersion,
      ).toBe(3);
    });

    it('refuses on B the old secret of a credential rotated on A, and one deleted on A', async () => {
      const agent = await createAgent(va, admin);
      const credential = await createCredential(va, admin, agent.id);
      expect(
        vault.readKv('secret', `agentidp/agents/${agent.id}/credentials/${credential.credentialId}`)
          ?.currentVersion,
      ).toBe(1);
      const held = await tokenFor(vb, credential.clientId, credential.clientSecret);

      const rotated = await va.http
        .post(`/api/v1/agents/${agent.id}/credentials/${credential.credentialId}/rotate`)
        .set('authorization', `Bearer ${admin}`);
      expect(rotated.status).toBe(200);
      const newSecret = rotated.body.clientSecret as string;

      const old = await requestToken(vb, credential.clientId, credential.clientSecret);
      expect(old.status).toBe(401);
      expect(old.body.error).toBe('invalid_client');
      expect(await isActive(vb, held)).toBe(false);
      await tokenFor(vb, credential.clientId, newSecret);

      const deleted = await va.http
        .delete(`/api/v1/agents/${agent.id}/credentials/${credential.credentialId}`)
        .set('authorization', `Bearer ${admin}`);
      expect(deleted.status).toBe(204);
      const gone = await requestToken(vb, credential.clientId, newSecret);
      expect(gone.status).toBe(401);
      expect(gone.body.error).toBe('invalid_client');
    });
  });
});

describeWithPostgres.each(COUNTER_STORES)(
  'lockouts and rate limits shared by two replicas, counters in %s (needs DATABASE_URL)',
  (_name, storeEnv) => {
    const TOKEN_LIMIT = 10;
    const API_LIMIT = 6;
    let database: TestDatabase;
    let a: TestApp | undefined;
    let b: TestApp | undefined;
    let admin: string;

    beforeAll(async () => {
      const store = await storeEnv();
      if (!store) return;
      database = await createTestDatabase();
      const env = deploymentEnv({
        ...store,
        // Behind the load balancer: the client address comes from X-Forwarded-For.
        TRUST_PROXY: 'true',
        LOCKOUT_MAX_FAILURES: '3',
        LOCKOUT_WINDOW_SECONDS: '60',
        RATE_LIMIT_TOKEN_PER_MINUTE: String(TOKEN_LIMIT),
        RATE_LIMIT_API_PER_MINUTE: String(API_LIMIT),
      });
      a = await startReplica(env, database);
      b = await startReplica(env, database);
      admin = await a.adminToken();
    });

    afterAll(async () => {
      await a?.app.close();
      await b?.app.close();
      await database?.drop();
    });

    it('adds up failures on both replicas into one lockout, enforced by both', async () => {
      if (!a || !b) return console.warn('Redis is not reachable: skipped');
      const agent = await createAgent(a, admin);
      const credential = await createCredential(a, admin, agent.id);
      const from = '203.0.113.10';
      const token = (t: TestApp, secret: string) =>
        requestToken(t, credential.clientId, secret).set('x-forwarded-for', from);
      // B has verified (and cached) the right secret.
      expect((await token(b, credential.clientSecret)).status).toBe(200);

      const wrong = wrongSecretFor(credential);
      for (const t of [a, b, a]) expect((await token(t, wrong)).status).toBe(401);

      for (const t of [b, a]) {
        const locked = await token(t, credential.clientSecret);
        expect(locked.status).toBe(429);
        expect(locked.body).toMatchObject({ error: 'invalid_client', code: 'CLIENT_LOCKED_OUT' });
        expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      }
      // One lockout, audited once, whichever replica counted the failure that started it.
      await flushAll(a, b);
      const events = await a.dataSource.query<unknown[]>(
        `SELECT id FROM audit_events WHERE type = 'client.locked_out' AND target_id = $1`,
        [credential.clientId],
      );
      expect(events).toHaveLength(1);
    });

    it('counts one per-IP rate limit across both replicas', async () => {
      if (!a || !b) return;
      const agent = await createAgent(a, admin);
      const credential = await createCredential(a, admin, agent.id);
      const from = '198.51.100.20';
      const replicas = [a, b];

      const tokens = await Promise.all(
        Array.from({ length: TOKEN_LIMIT + 6 }, (_, index) =>
          requestToken(replicas[index % 2], credential.clientId, credential.clientSecret).set(
            'x-forwarded-for',
            from,
          ),
        ),
      );
      const tokenStatuses = tokens.map((response) => response.status);
      expect(tokenStatuses.filter((status) => status === 200)).toHaveLength(TOKEN_LIMIT);
      expect(tokenStatuses.filter((status) => status === 429)).toHaveLength(6);
      const limited = tokens.find((response) => response.status === 429);
      expect(limited?.body.code).toBe('RATE_LIMITED');
      expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);

      const apiCalls = await Promise.all(
        Array.from({ length: API_LIMIT + 4 }, (_, index) =>
          replicas[index % 2].http
            .get(`/api/v1/agents/${agent.id}`)
            .set('authorization', `Bearer ${admin}`)
            .set('x-forwarded-for', from),
        ),
      );
      const apiStatuses = apiCalls.map((response) => response.status);
      expect(apiStatuses.filter((status) => status === 200)).toHaveLength(API_LIMIT);
      expect(apiStatuses.filter((status) => status === 429)).toHaveLength(4);

      // One refusal event per bucket and window, however many replicas refused.
      await flushAll(a, b);
      const events = await a.dataSource.query<{ bucket: string }[]>(
        `SELECT details->>'bucket' AS bucket FROM audit_events
          WHERE type = 'request.rate_limited' AND target_id = $1 ORDER BY bucket`,
        [from],
      );
      expect(events.map((event) => event.bucket)).toEqual(['api', 'token']);
    });
  },
);

describeWithPostgres('replicas starting at once on an empty database (needs DATABASE_URL)', () => {
  const REPLICAS = 3;

  async function startTogether(
    database: TestDatabase,
    env: Record<string, string>,
  ): Promise<TestApp[]> {
    const started = await Promise.allSettled(
      Array.from({ length: REPLICAS }, () => startTestApp(env, database)),
    );
    const replicas = started.flatMap((result) =>
      result.status === 'fulfilled' ? [result.value] : [],
    );
    const failures = started.flatMap((result) =>
      result.status === 'rejected' ? [String(result.reason)] : [],
    );
    if (failures.length) await Promise.all(replicas.map((t) => t.app.close()));
    expect(failures).toEqual([]);
    return replicas;
  }

  async function count(t: TestApp, sql: string): Promise<number> {
    const rows = await t.dataSource.query<{ count: string }[]>(sql);
    return Number(rows[0].count);
  }

  async function expectOneOfEverything(replicas: TestApp[], bearer: string): Promise<void> {
    const [first] = replicas;
    expect(await count(first, 'SELECT count(*) FROM migrations')).toBe(migrations.length);
    expect(await count(first, 'SELECT count(*) FROM signing_keys')).toBe(1);
    expect(await count(first, 'SELECT count(*) FROM agents')).toBe(1);
    expect(await count(first, 'SELECT count(*) FROM credentials')).toBe(1);
    const sets = await Promise.all(replicas.map(jwks));
    for (const set of sets) expect(set).toEqual(sets[0]);
    await flushAll(...replicas);
    expect(await verifyChain(first, bearer)).toMatchObject({ valid: true, firstBrokenId: null });
    expect(
      await count(first, `SELECT count(*) FROM audit_events WHERE type = 'admin.bootstrapped'`),
    ).toBe(1);
  }

  it('boots every replica with one admin (printed once), one signing key, migrations applied once', async () => {
    const database = await createTestDatabase();
    const printed: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const spy = jest
      .spyOn(process.stdout, 'write')
      .mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        if (text.includes('bootstrap admin')) {
          printed.push(text);
          return true;
        }
        return write(chunk, ...(rest as []));
      });
    let replicas: TestApp[] = [];
    try {
      // No pinned admin: the first start ever makes one and prints it.
      replicas = await startTogether(database, {
        ...deploymentEnv(),
        BOOTSTRAP_ADMIN_CLIENT_ID: '',
        BOOTSTRAP_ADMIN_CLIENT_SECRET: '',
      });
      spy.mockRestore();
      expect(printed).toHaveLength(1);
      const clientId = /client_id:\s+(\S+)/.exec(printed[0])?.[1] ?? '';
      const clientSecret = /client_secret:\s+(\S+)/.exec(printed[0])?.[1] ?? '';
      let bearer = '';
      for (const t of replicas) {
        const response = await requestToken(t, clientId, clientSecret);
        expect(response.status).toBe(200);
        expect(response.body.scope).toBe('admin');
        bearer = response.body.access_token as string;
      }
      await expectOneOfEverything(replicas, bearer);
    } finally {
      spy.mockRestore();
      await Promise.all(replicas.map((t) => t.app.close()));
      await database.drop();
    }
  });

  it('boots every replica with the same pinned admin, created once', async () => {
    const database = await createTestDatabase();
    let replicas: TestApp[] = [];
    try {
      replicas = await startTogether(database, deploymentEnv());
      let bearer = '';
      for (const t of replicas) bearer = await t.adminToken();
      await expectOneOfEverything(replicas, bearer);
    } finally {
      await Promise.all(replicas.map((t) => t.app.close()));
      await database.drop();
    }
  });
});
