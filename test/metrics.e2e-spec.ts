import { createAgent, createCredential, requestToken } from './support/api';
import { startTestApp, type TestApp } from './support/test-app';

function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+|NaN)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = match[2] ?? '';
    if (Object.entries(labels).every(([key, value]) => present.includes(`${key}="${value}"`)))
      return Number(match[3]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('exposes token outcomes, route latency, secret checks, cache use and pool use in Prometheus format', async () => {
    const admin = await t.adminToken();
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    await requestToken(t, credential.clientId, credential.clientSecret);
    await requestToken(t, credential.clientId, credential.clientSecret);
    await requestToken(t, credential.clientId, 'aidp_wrong');
    await t.http.get('/api/docs-json');
    await t.http.get('/no/such/route');

    const response = await t.http.get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    const text = response.text;
    expect(
      sample(text, 'agentidp_token_requests_total', { outcome: 'issued' }),
    ).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'agentidp_token_requests_total', { outcome: 'invalid_client' })).toBe(1);
    expect(
      sample(text, 'agentidp_http_request_duration_seconds_count', {
        route: '/api/v1/token',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(3);
    // Every route is recorded by its pattern (the docs' too, declared outside Nest), and requests
    // no route matched under one label, never their raw URL.
    expect(
      sample(text, 'agentidp_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/api/docs-json',
        status: '200',
      }),
    ).toBe(1);
    expect(
      sample(text, 'agentidp_http_request_duration_seconds_count', {
        route: 'unmatched',
        status: '404',
      }),
    ).toBe(1);
    expect(text).not.toContain('/no/such/route');
    expect(
      sample(text, 'agentidp_secret_verification_duration_seconds_count', { store: 'bcrypt' }),
    ).toBeGreaterThan(0);
    expect(
      sample(text, 'agentidp_secret_cache_lookups_total', { result: 'hit' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'agentidp_secret_cache_lookups_total', { result: 'miss' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'agentidp_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sample(text, 'agentidp_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).not.toContain(credential.clientSecret);
  });
});
