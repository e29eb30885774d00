import { randomUUID } from 'node:crypto';
import { createAgent, createCredential, requestToken } from './support/api';
import { COUNTER_STORES } from './support/counter-stores';
import { startTestApp, type TestApp } from './support/test-app';

async function auditTypes(t: TestApp, admin: string, type: string): Promise<unknown[]> {
  const response = await t.http
    .get('/api/v1/audit-events')
    .query({ type })
    .set('authorization', `Bearer ${admin}`);
  return (response.body as { items: unknown[] }).items;
}

describe.each(COUNTER_STORES)('abuse resistance with counters in %s', (_name, envFor) => {
  let t: TestApp | undefined;
  let admin: string;

  beforeAll(async () => {
    const env = await envFor();
    if (!env) return;
    t = await startTestApp({
      ...env,
      LOCKOUT_MAX_FAILURES: '3',
      LOCKOUT_WINDOW_SECONDS: '60',
      RATE_LIMIT_API_PER_MINUTE: '40',
    });
    admin = await t.adminToken();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('locks a client out after repeated failures, refusing even the right secret with 429', async () => {
    if (!t) return console.warn('Redis is not reachable: skipped');
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const wrong = `${credential.clientSecret.slice(0, 20)}${'A'.repeat(credential.clientSecret.length - 20)}`;
    for (let i = 0; i < 3; i += 1) {
      expect((await requestToken(t, credential.clientId, wrong)).status).toBe(401);
    }
    const locked = await requestToken(t, credential.clientId, credential.clientSecret);
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ error: 'invalid_client', code: 'CLIENT_LOCKED_OUT' });
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);

    // Other clients are not affected.
    const other = await createCredential(t, admin, (await createAgent(t, admin)).id);
    expect((await requestToken(t, other.clientId, other.clientSecret)).status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, 300));
    const { AuditService } = await import('@agentidp/audit');
    await t.app.get(AuditService).flush();
    expect((await auditTypes(t, admin, 'client.locked_out')).length).toBeGreaterThan(0);
  });

  it('locks out a client id that names no credential like a known one', async () => {
    if (!t) return;
    const unknownId = randomUUID();
    for (let i = 0; i < 3; i += 1) {
      expect((await requestToken(t, unknownId, 'aidp_wrong')).status).toBe(401);
    }
    const locked = await requestToken(t, unknownId, 'aidp_wrong');
    expect(locked.status).toBe(429);
    expect(locked.body).toMatchObject({ error: 'invalid_client', code: 'CLIENT_LOCKED_OUT' });
  });

  it('forgets earlier failures after a success', async () => {
    if (!t) return;
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    for (let round = 0; round < 3; round += 1) {
      expect((await requestToken(t, credential.clientId, 'aidp_wrong')).status).toBe(401);
      expect((await requestToken(t, credential.clientId, 'aidp_wrong')).status).toBe(401);
      expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(
        200,
      );
    }
  });

  it('rate-limits the management API per IP with 429 and Retry-After', async () => {
    if (!t) return;
    let limited:
      { status: number; headers: Record<string, string>; body: { code?: string } } | undefined;
    for (let i = 0; i < 60 && !limited; i += 1) {
      const response = await t.http.get('/api/v1/agents').set('authorization', `Bearer ${admin}`);
      if (response.status === 429) limited = response;
    }
    expect(limited?.body.code).toBe('RATE_LIMITED');
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
    // Probes are never limited.
    expect((await t.http.get('/health')).status).toBe(200);
  });
});
