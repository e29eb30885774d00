import type { TestApp } from './test-app';

export interface CreatedCredential {
  credentialId: string;
  agentId: string;
  clientId: string;
  clientSecret: string;
}

/** Small helpers over the public API, so specs read as scenarios. */
export async function createAgent(
  t: TestApp,
  token: string,
  body: Record<string, unknown> = {},
): Promise<{ id: string }> {
  const response = await t.http
    .post('/api/v1/agents')
    .set('authorization', `Bearer ${token}`)
    .send({ name: 'test-agent', allowedScopes: ['read', 'write'], ...body });
  if (response.status !== 201) throw new Error(`create agent: ${response.status} ${response.text}`);
  return response.body as { id: string };
}

export async function createCredential(
  t: TestApp,
  token: string,
  agentId: string,
): Promise<CreatedCredential> {
  const response = await t.http
    .post(`/api/v1/agents/${agentId}/credentials`)
    .set('authorization', `Bearer ${token}`);
  if (response.status !== 201)
    throw new Error(`create credential: ${response.status} ${response.text}`);
  return response.body as CreatedCredential;
}

export function requestToken(
  t: TestApp,
  clientId: string,
  clientSecret: string,
  extra: Record<string, string> = {},
) {
  return t.http
    .post('/api/v1/token')
    .type('form')
    .send({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      ...extra,
    });
}

export async function tokenFor(
  t: TestApp,
  clientId: string,
  clientSecret: string,
  scope?: string,
): Promise<string> {
  const response = await requestToken(t, clientId, clientSecret, scope ? { scope } : {});
  if (response.status !== 200) throw new Error(`token: ${response.status} ${response.text}`);
  return (response.body as { access_token: string }).access_token;
}
