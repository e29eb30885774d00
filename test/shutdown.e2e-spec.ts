import { createAgent, createCredential, requestToken } from './support/api';
import { startTestApp } from './support/test-app';
import { createTestDatabase } from './support/test-database';

describe('a clean shutdown', () => {
  it('drains in-flight requests and loses no audit event', async () => {
    const database = await createTestDatabase();
    try {
      const first = await startTestApp({}, database);
      const admin = await first.adminToken();
      const agent = await createAgent(first, admin);
      const credential = await createCredential(first, admin, agent.id);
      const inFlight = Array.from({ length: 20 }, () =>
        requestToken(first, credential.clientId, credential.clientSecret).then(
          (response) => response.status,
        ),
      );
      // Close once the server is answering, with the rest still in flight: they finish, their events are written.
      await Promise.race(inFlight);
      const closing = first.app.close();
      const statuses = await Promise.all(inFlight.map((request) => request.catch(() => 0)));
      await closing;
      const served = statuses.filter((status) => status === 200).length;
      // Something must have been served for the count below to mean anything.
      expect(served).toBeGreaterThan(0);
      expect(statuses.every((status) => status === 200 || status === 0 || status === 503)).toBe(
        true,
      );

      const second = await startTestApp({}, database);
      try {
        const rows = await second.dataSource.query<{ count: string }[]>(
          `SELECT count(*) FROM audit_events WHERE type = 'token.issued' AND actor_agent_id = $1`,
          [agent.id],
        );
        expect(Number(rows[0].count)).toBe(served);
      } finally {
        await second.app.close();
      }
    } finally {
      await database.drop();
    }
  });
});
