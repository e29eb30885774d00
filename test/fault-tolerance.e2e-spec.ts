import { createAgent, createCredential, requestToken } from './support/api';
import { TcpProxy } from './support/tcp-proxy';
import { startTestApp, type TestApp } from './support/test-app';
import { createTestDatabase, type TestDatabase } from './support/test-database';

const adminUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const describeWithPostgres = adminUrl ? describe : describe.skip;

describeWithPostgres('PostgreSQL going away under load (needs DATABASE_URL)', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let t: TestApp;

  beforeAll(async () => {
    database = await createTestDatabase();
    const target = new URL(database.databaseUrl as string);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(target.toString());
    viaProxy.port = String(proxy.port);
    viaProxy.hostname = '127.0.0.1';
    t = await startTestApp(
      { DATABASE_URL: viaProxy.toString(), DB_CONNECT_TIMEOUT_MS: '1000' },
      {
        ...database,
        env: { ...database.env, DATABASE_URL: viaProxy.toString() },
      },
    );
  });

  afterAll(async () => {
    await proxy.restore().catch(() => undefined);
    await t.close();
    await proxy.cut();
    await database.drop();
  });

  it('fails fast with 503 while the database is gone and recovers by itself', async () => {
    const admin = await t.adminToken();
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(200);

    // Load in flight while the connection drops.
    const load = Promise.all(
      Array.from({ length: 30 }, () =>
        requestToken(t, credential.clientId, credential.clientSecret),
      ),
    );
    await proxy.cut();
    const during = await load;
    for (const response of during) expect([200, 503]).toContain(response.status);

    const started = Date.now();
    const refused = await requestToken(t, credential.clientId, credential.clientSecret);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({
      error: 'temporarily_unavailable',
      code: 'DATABASE_UNAVAILABLE',
    });
    const api = await t.http
      .get(`/api/v1/agents/${agent.id}`)
      .set('authorization', `Bearer ${admin}`);
    expect(api.status).toBe(503);
    expect(api.body.code).toBe('DATABASE_UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(5000);

    expect((await t.http.get('/health')).status).toBe(200);
    const notReady = await t.http.get('/health/ready');
    expect(notReady.status).toBe(503);

    await proxy.restore();
    let recovered = 0;
    for (let attempt = 0; attempt < 50 && recovered === 0; attempt += 1) {
      if ((await t.http.get('/health/ready')).status === 200) recovered = 1;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(recovered).toBe(1);
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(200);
  });
});
