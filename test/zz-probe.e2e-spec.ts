import { createAgent } from './support/api';
import { startTestApp, type TestApp } from './support/test-app';

describe('probe', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
  });
  afterAll(async () => {
    await t.close();
  });
  it('probe', async () => {
    for (let i = 0; i < 5; i++) {
      const created = await t.http
        .post('/api/v1/agents')
        .set('authorization', `Bearer ${admin}`)
        .send({ name: 'x' });
      const got = await t.http
        .get(`/api/v1/agents/${created.body.id}`)
        .set('authorization', `Bearer ${admin}`);
      const raw = await t.dataSource.query(
        'SELECT created_at::text AS c FROM agents WHERE id = $1',
        [created.body.id],
      );
      console.log(created.body.createdAt, got.body.createdAt, raw[0].c);
      await new Promise((r) => setTimeout(r, 37));
    }
    await createAgent(t, admin);
  });
});
