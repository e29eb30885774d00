import { randomUUID } from 'node:crypto';
import type { Response, Test } from 'supertest';
import { ErrorCode } from '@agentidp/common';
import { ClientAuthenticator } from '@agentidp/credentials';
import { createAgent, createCredential, requestToken, tokenFor } from './support/api';
import { startTestApp, type TestApp } from './support/test-app';

interface Agent {
  id: string;
  name: string;
  description: string | null;
  owner: string | null;
  status: 'active' | 'suspended';
  allowedScopes: string[];
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

interface Credential {
  credentialId: string;
  agentId: string;
  clientId: string;
  status: string;
  storage: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  rotatedAt: string | null;
  clientSecret?: string;
}

/** An agent acting with its own token: the caller of the scope tests. */
interface Caller {
  id: string;
  token: string;
  clientId: string;
  clientSecret: string;
  credentialId: string;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The project's error body, `{statusCode, code, message, requestId}`, with the id in the header too. */
function expectError(response: Response, status: number, code: ErrorCode): void {
  const summary = `${response.status} ${response.text}`;
  expect({ status: response.status, code: (response.body as { code?: unknown }).code }).toEqual({
    status,
    code,
  });
  const body = response.body as Record<string, unknown>;
  expect(body.statusCode).toBe(status);
  expect(typeof body.message).toBe('string');
  expect((body.message as string).length).toBeGreaterThan(0);
  expect(typeof body.requestId).toBe('string');
  expect(response.headers['x-request-id']).toBe(body.requestId);
  const allowed = ['statusCode', 'code', 'message', 'requestId', 'details'];
  expect(Object.keys(body).filter((key) => !allowed.includes(key))).toEqual([]);
  if (code === ErrorCode.VALIDATION_FAILED) expect(body.details).toBeDefined();
  expect(summary).not.toMatch(/QueryFailedError|stack|at \w+ \(/);
}

/** The RFC 6749 §5.2 body of the OAuth endpoints. */
function expectOAuthError(response: Response, status: number, error: string): void {
  expect({ status: response.status, error: (response.body as { error?: unknown }).error }).toEqual({
    status,
    error,
  });
  const body = response.body as Record<string, unknown>;
  expect(typeof body.error_description).toBe('string');
  expect(typeof body.requestId).toBe('string');
  expect(response.headers['x-request-id']).toBe(body.requestId);
  expect(body.statusCode).toBeUndefined();
  expect(body.message).toBeUndefined();
}

describe('Management API', () => {
  let t: TestApp;
  let admin: string;

  const as = (token: string) => ({
    get: (path: string): Test => t.http.get(path).set('authorization', `Bearer ${token}`),
    post: (path: string): Test => t.http.post(path).set('authorization', `Bearer ${token}`),
    patch: (path: string): Test => t.http.patch(path).set('authorization', `Bearer ${token}`),
    delete: (path: string): Test => t.http.delete(path).set('authorization', `Bearer ${token}`),
  });

  /** A fresh agent allowed exactly `scopes`, holding a token that carries them all. */
  async function caller(scopes: string[]): Promise<Caller> {
    const agent = await createAgent(t, admin, {
      name: `caller ${scopes.join(' ')}`,
      allowedScopes: scopes,
    });
    const credential = await createCredential(t, admin, agent.id);
    const token = await tokenFor(t, credential.clientId, credential.clientSecret);
    return {
      id: agent.id,
      token,
      clientId: credential.clientId,
      clientSecret: credential.clientSecret,
      credentialId: credential.credentialId,
    };
  }

  async function getAgent(id: string): Promise<Agent> {
    const response = await as(admin).get(`/api/v1/agents/${id}`);
    expect(response.status).toBe(200);
    return response.body as Agent;
  }

  async function agentCount(): Promise<number> {
    const rows = await t.dataSource.query<{ count: string }[]>(
      'SELECT count(*)::text AS count FROM agents',
    );
    return Number(rows[0].count);
  }

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
  });

  afterAll(async () => {
    await t.close();
  });

  describe('authentication', () => {
    it('refuses every management route without a valid bearer token with 401 UNAUTHORIZED and a Bearer challenge', async () => {
      const agent = await createAgent(t, admin);
      const credential = await createCredential(t, admin, agent.id);
      const a = `/api/v1/agents/${agent.id}`;
      const c = `${a}/credentials/${credential.credentialId}`;
      const routes: [string, string][] = [
        ['get', '/api/v1/agents'],
        ['post', '/api/v1/agents'],
        ['get', a],
        ['patch', a],
        ['delete', a],
        ['get', `${a}/credentials`],
        ['post', `${a}/credentials`],
        ['get', c],
        ['post', `${c}/rotate`],
        ['delete', c],
      ];
      const unsigned = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(
        JSON.stringify({ sub: agent.id, scope: 'admin' }),
      ).toString('base64url')}.`;
      const authorizations: (string | undefined)[] = [
        undefined,
        'Bearer',
        'Bearer not-a-token',
        `Bearer ${unsigned}`,
        `Basic ${Buffer.from(`${credential.clientId}:${credential.clientSecret}`).toString('base64')}`,
        admin, // the token without the Bearer scheme
        `Bearer ${admin} extra`,
      ];
      for (const [method, path] of routes) {
        for (const authorization of authorizations) {
          let request = t.http[method as 'get'](path);
          if (authorization !== undefined) request = request.set('authorization', authorization);
          if (method === 'post' || method === 'patch') request = request.send({ name: 'x' });
          const response = await request;
          try {
            expectError(response, 401, ErrorCode.UNAUTHORIZED);
            expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
          } catch (error) {
            throw new Error(
              `${method.toUpperCase()} ${path} with ${authorization ?? 'no authorization'}: ${
                (error as Error).message
              }`,
              { cause: error },
            );
          }
        }
      }
      // Nothing was changed by the refused calls.
      expect((await getAgent(agent.id)).name).toBe('test-agent');
      const credentials = await as(admin).get(`${a}/credentials`);
      expect((credentials.body as { items: unknown[] }).items).toHaveLength(1);
    });

    it('accepts the scheme name in any case', async () => {
      const response = await t.http.get('/api/v1/agents').set('authorization', `bEaReR ${admin}`);
      expect(response.status).toBe(200);
    });

    it('stops accepting a token once it is revoked, its agent is suspended or its agent is deleted', async () => {
      const revoked = await caller(['agents:read']);
      expect((await as(revoked.token).get('/api/v1/agents')).status).toBe(200);
      const revocation = await t.http
        .post('/api/v1/token/revoke')
        .auth(revoked.clientId, revoked.clientSecret)
        .type('form')
        .send({ token: revoked.token });
      expect(revocation.status).toBe(200);
      const afterRevocation = await as(revoked.token).get('/api/v1/agents');
      expectError(afterRevocation, 401, ErrorCode.UNAUTHORIZED);
      expect(afterRevocation.headers['www-authenticate']).toMatch(/error="invalid_token"/);

      const suspended = await caller(['agents:read']);
      await as(admin).patch(`/api/v1/agents/${suspended.id}`).send({ status: 'suspended' });
      expectError(await as(suspended.token).get('/api/v1/agents'), 401, ErrorCode.UNAUTHORIZED);

      const deleted = await caller(['agents:read']);
      expect((await as(admin).delete(`/api/v1/agents/${deleted.id}`)).status).toBe(204);
      expectError(await as(deleted.token).get('/api/v1/agents'), 401, ErrorCode.UNAUTHORIZED);
    });
  });

  describe('scopes', () => {
    it('lets admin do everything', async () => {
      const created = await as(admin).post('/api/v1/agents').send({ name: 'by admin' });
      expect(created.status).toBe(201);
      const id = (created.body as Agent).id;
      expect((await as(admin).get(`/api/v1/agents/${id}`)).status).toBe(200);
      expect((await as(admin).patch(`/api/v1/agents/${id}`).send({ name: 'renamed' })).status).toBe(
        200,
      );
      const credential = await as(admin).post(`/api/v1/agents/${id}/credentials`);
      expect(credential.status).toBe(201);
      const credentialId = (credential.body as Credential).credentialId;
      expect((await as(admin).get(`/api/v1/agents/${id}/credentials`)).status).toBe(200);
      expect((await as(admin).get(`/api/v1/agents/${id}/credentials/${credentialId}`)).status).toBe(
        200,
      );
      expect(
        (await as(admin).post(`/api/v1/agents/${id}/credentials/${credentialId}/rotate`)).status,
      ).toBe(200);
      expect(
        (await as(admin).delete(`/api/v1/agents/${id}/credentials/${credentialId}`)).status,
      ).toBe(204);
      expect((await as(admin).delete(`/api/v1/agents/${id}`)).status).toBe(204);
    });

    it('refuses POST /agents without agents:write with 403 INSUFFICIENT_SCOPE and creates nothing', async () => {
      const before = await agentCount();
      for (const scopes of [[], ['agents:read'], ['credentials:write', 'tokens:introspect']]) {
        const weak = await caller(scopes);
        const response = await as(weak.token).post('/api/v1/agents').send({ name: 'not allowed' });
        expectError(response, 403, ErrorCode.INSUFFICIENT_SCOPE);
        expect(response.headers['www-authenticate']).toMatch(
          /^Bearer error="insufficient_scope", scope="agents:write"/,
        );
      }
      expect(await agentCount()).toBe(before + 3); // the three callers, nothing else

      const writer = await caller(['agents:write']);
      const allowed = await as(writer.token).post('/api/v1/agents').send({ name: 'allowed' });
      expect(allowed.status).toBe(201);
    });

    it('lists only the caller itself without agents:read, and every agent with it', async () => {
      const other = await createAgent(t, admin, { name: 'someone else' });
      const plain = await caller([]);
      const own = await as(plain.token).get('/api/v1/agents');
      expect(own.status).toBe(200);
      expect(own.body).toEqual({
        items: [expect.objectContaining({ id: plain.id })],
        nextCursor: null,
      });
      const filtered = await as(plain.token).get('/api/v1/agents?status=suspended');
      expect(filtered.body).toEqual({ items: [], nextCursor: null });

      const reader = await caller(['agents:read']);
      const all = await as(reader.token).get('/api/v1/agents?limit=100');
      const ids = (all.body as { items: Agent[] }).items.map((agent) => agent.id);
      expect(ids).toEqual(
        expect.arrayContaining([other.id, plain.id, reader.id, t.admin.clientId]),
      );
    });

    it('lets an agent without scopes read itself but answers 404 for any other agent, existing or not', async () => {
      const plain = await caller([]);
      const other = await createAgent(t, admin, { name: 'hidden' });

      const self = await as(plain.token).get(`/api/v1/agents/${plain.id}`);
      expect(self.status).toBe(200);
      expect(self.body).toMatchObject({ id: plain.id, allowedScopes: [] });
      const upper = await as(plain.token).get(`/api/v1/agents/${plain.id.toUpperCase()}`);
      expect(upper.status).toBe(200);
      expect((upper.body as Agent).id).toBe(plain.id);

      const existing = await as(plain.token).get(`/api/v1/agents/${other.id}`);
      const missing = await as(plain.token).get(`/api/v1/agents/${randomUUID()}`);
      expectError(existing, 404, ErrorCode.AGENT_NOT_FOUND);
      expectError(missing, 404, ErrorCode.AGENT_NOT_FOUND);
      expect((existing.body as { message: string }).message).toBe(
        (missing.body as { message: string }).message,
      );

      const reader = await caller(['agents:read']);
      expect((await as(reader.token).get(`/api/v1/agents/${other.id}`)).status).toBe(200);
    });

    it('refuses PATCH and DELETE without agents:write: 403 on itself, 404 on another agent', async () => {
      const plain = await caller(['agents:read', 'credentials:write']);
      const other = await createAgent(t, admin, { name: 'target' });

      const patchSelf = await as(plain.token)
        .patch(`/api/v1/agents/${plain.id}`)
        .send({ allowedScopes: ['admin'] });
      expectError(patchSelf, 403, ErrorCode.INSUFFICIENT_SCOPE);
      expectError(
        await as(plain.token).delete(`/api/v1/agents/${plain.id}`),
        403,
        ErrorCode.INSUFFICIENT_SCOPE,
      );

      const noScope = await caller([]);
      expectError(
        await as(noScope.token).patch(`/api/v1/agents/${other.id}`).send({ name: 'hacked' }),
        404,
        ErrorCode.AGENT_NOT_FOUND,
      );
      expectError(
        await as(noScope.token).delete(`/api/v1/agents/${other.id}`),
        404,
        ErrorCode.AGENT_NOT_FOUND,
      );
      // A reader knows the other agent exists, but still may not change it.
      const readerPatch = await as(plain.token)
        .patch(`/api/v1/agents/${other.id}`)
        .send({ name: 'hacked' });
      expect([403, 404]).toContain(readerPatch.status);

      expect(await getAgent(plain.id)).toMatchObject({
        allowedScopes: ['agents:read', 'credentials:write'],
      });
      expect(await getAgent(other.id)).toMatchObject({ name: 'target' });

      const writer = await caller(['agents:write']);
      const patched = await as(writer.token)
        .patch(`/api/v1/agents/${other.id}`)
        .send({ name: 'ok' });
      expect(patched.status).toBe(200);
      expect((await as(writer.token).delete(`/api/v1/agents/${other.id}`)).status).toBe(204);
    });

    it('lets an agent without scopes list, read and rotate its own credentials, but not create or delete them', async () => {
      const plain = await caller([]);
      const base = `/api/v1/agents/${plain.id}/credentials`;

      const list = await as(plain.token).get(base);
      expect(list.status).toBe(200);
      expect((list.body as { items: Credential[] }).items.map((c) => c.credentialId)).toEqual([
        plain.credentialId,
      ]);
      const one = await as(plain.token).get(`${base}/${plain.credentialId}`);
      expect(one.status).toBe(200);
      expect((one.body as Credential).credentialId).toBe(plain.credentialId);

      const created = await as(plain.token).post(base);
      expectError(created, 403, ErrorCode.INSUFFICIENT_SCOPE);
      expect(created.headers['www-authenticate']).toMatch(/scope="credentials:write"/);
      expectError(
        await as(plain.token).delete(`${base}/${plain.credentialId}`),
        403,
        ErrorCode.INSUFFICIENT_SCOPE,
      );
      const count = await as(admin).get(base);
      expect((count.body as { items: unknown[] }).items).toHaveLength(1);

      // Rotation of its own credential is allowed; the rotation ends the token it was made with.
      const rotated = await as(plain.token).post(`${base}/${plain.credentialId}/rotate`);
      expect(rotated.status).toBe(200);
      const secret = (rotated.body as Credential).clientSecret as string;
      expect(secret).not.toBe(plain.clientSecret);
      expect((await requestToken(t, plain.clientId, secret)).status).toBe(200);
      expect((await requestToken(t, plain.clientId, plain.clientSecret)).status).toBe(401);
    });

    it("answers 404 AGENT_NOT_FOUND for another agent's credentials without the scope", async () => {
      const plain = await caller([]);
      const other = await createAgent(t, admin, { name: 'victim' });
      const otherCredential = await createCredential(t, admin, other.id);
      const base = `/api/v1/agents/${other.id}/credentials`;
      const cred = `${base}/${otherCredential.credentialId}`;

      for (const request of [
        () => as(plain.token).get(base),
        () => as(plain.token).post(base),
        () => as(plain.token).get(cred),
        () => as(plain.token).post(`${cred}/rotate`),
        () => as(plain.token).delete(cred),
      ]) {
        expectError(await request(), 404, ErrorCode.AGENT_NOT_FOUND);
      }

      // Another agent's credential reached through the caller's own path is not found either.
      const own = `/api/v1/agents/${plain.id}/credentials/${otherCredential.credentialId}`;
      expectError(await as(plain.token).get(own), 404, ErrorCode.CREDENTIAL_NOT_FOUND);
      expectError(await as(plain.token).post(`${own}/rotate`), 404, ErrorCode.CREDENTIAL_NOT_FOUND);

      // The victim's secret still works and its credential list is untouched.
      expect(
        (await requestToken(t, otherCredential.clientId, otherCredential.clientSecret)).status,
      ).toBe(200);
      expect(((await as(admin).get(base)).body as { items: unknown[] }).items).toHaveLength(1);
    });

    it("lets credentials:read list another agent's credentials but not change them, and credentials:write change them", async () => {
      const other = await createAgent(t, admin, { name: 'managed' });
      const existing = await createCredential(t, admin, other.id);
      const base = `/api/v1/agents/${other.id}/credentials`;

      const reader = await caller(['credentials:read']);
      expect((await as(reader.token).get(base)).status).toBe(200);
      expect((await as(reader.token).get(`${base}/${existing.credentialId}`)).status).toBe(200);
      const refused = await as(reader.token).post(base);
      expect([403, 404]).toContain(refused.status);
      expect(((await as(admin).get(base)).body as { items: unknown[] }).items).toHaveLength(1);

      const writer = await caller(['credentials:write']);
      const created = await as(writer.token).post(base);
      expect(created.status).toBe(201);
      const rotated = await as(writer.token).post(`${base}/${existing.credentialId}/rotate`);
      expect(rotated.status).toBe(200);
      expect(
        (await as(writer.token).delete(`${base}/${(created.body as Credential).credentialId}`))
          .status,
      ).toBe(204);
    });

    it('introspects any token with tokens:introspect and refuses a bearer without it', async () => {
      const subject = await caller([]);
      const introspector = await caller(['tokens:introspect']);
      const allowed = await t.http
        .post('/api/v1/token/introspect')
        .set('authorization', `Bearer ${introspector.token}`)
        .type('form')
        .send({ token: subject.token });
      expect(allowed.status).toBe(200);
      expect(allowed.body).toMatchObject({ active: true, client_id: subject.id });

      const plain = await caller(['agents:read']);
      const refused = await t.http
        .post('/api/v1/token/introspect')
        .set('authorization', `Bearer ${plain.token}`)
        .type('form')
        .send({ token: subject.token });
      expect(refused.status).toBeGreaterThanOrEqual(400);
      expect(refused.status).toBeLessThan(500);
      expect(typeof (refused.body as { error?: unknown }).error).toBe('string');
      expect(refused.body).not.toHaveProperty('active');
    });
  });

  describe('agents', () => {
    it('creates an agent with every field and reads back exactly what was stored', async () => {
      const body = {
        name: 'Invoice bot',
        description: 'Reads invoices',
        owner: 'ops@example.com',
        allowedScopes: ['invoices:read', 'invoices:write', 'invoices:read'],
        metadata: { team: 'finance', limits: { daily: 10 }, tags: ['a', 'b'], nested: null },
      };
      const created = await as(admin).post('/api/v1/agents').send(body);
      expect(created.status).toBe(201);
      const agent = created.body as Agent;
      expect(agent).toEqual({
        id: expect.stringMatching(UUID),
        name: 'Invoice bot',
        description: 'Reads invoices',
        owner: 'ops@example.com',
        status: 'active',
        allowedScopes: ['invoices:read', 'invoices:write'],
        metadata: body.metadata,
        createdAt: expect.stringMatching(ISO_DATE),
        updatedAt: expect.stringMatching(ISO_DATE),
      });
      expect(await getAgent(agent.id)).toEqual(agent);

      const minimal = await as(admin).post('/api/v1/agents').send({ name: 'minimal' });
      expect(minimal.status).toBe(201);
      expect(minimal.body).toMatchObject({
        name: 'minimal',
        description: null,
        owner: null,
        allowedScopes: [],
        metadata: {},
        status: 'active',
      });
    });

    it('refuses unknown fields and invalid values with 400 VALIDATION_FAILED naming the field', async () => {
      const before = await agentCount();
      const cases: [Record<string, unknown>, string][] = [
        [{ name: 'x', colour: 'blue' }, 'colour'],
        [{ name: 'x', status: 'active' }, 'status'],
        [{ name: 'x', id: randomUUID() }, 'id'],
        [{ name: 'x', createdAt: '2020-01-01T00:00:00.000Z' }, 'createdAt'],
        [{}, 'name'],
        [{ name: '' }, 'name'],
        [{ name: '   ' }, 'name'],
        [{ name: 'a'.repeat(201) }, 'name'],
        [{ name: 'x', description: 'd'.repeat(2001) }, 'description'],
        [{ name: 'x', owner: 'o'.repeat(321) }, 'owner'],
        [{ name: 'x', allowedScopes: ['has space'] }, 'allowedScopes'],
        [{ name: 'x', allowedScopes: ['quo"te'] }, 'allowedScopes'],
        [{ name: 'x', allowedScopes: ['back\\slash'] }, 'allowedScopes'],
        [{ name: 'x', allowedScopes: [''] }, 'allowedScopes'],
        [{ name: 'x', allowedScopes: ['s'.repeat(129)] }, 'allowedScopes'],
        [
          { name: 'x', allowedScopes: Array.from({ length: 101 }, (_, i) => `s${i}`) },
          'allowedScopes',
        ],
        [{ name: 'x', metadata: { blob: 'm'.repeat(16 * 1024) } }, 'metadata'],
      ];
      for (const [body, field] of cases) {
        const response = await as(admin).post('/api/v1/agents').send(body);
        try {
          expectError(response, 400, ErrorCode.VALIDATION_FAILED);
          expect(JSON.stringify((response.body as { details: unknown }).details)).toContain(field);
        } catch (error) {
          throw new Error(
            `POST /agents ${JSON.stringify(body).slice(0, 120)}: ${(error as Error).message}`,
            { cause: error },
          );
        }
      }
      expect(await agentCount()).toBe(before);
    });

    it('accepts the boundaries: a 200-character name, 100 scopes and metadata just under 16 KiB', async () => {
      const metadata = { blob: 'm'.repeat(16 * 1024 - 20) };
      const response = await as(admin)
        .post('/api/v1/agents')
        .send({
          name: 'n'.repeat(200),
          allowedScopes: Array.from({ length: 100 }, (_, i) => `s${i}`),
          metadata,
        });
      expect(response.status).toBe(201);
      const stored = await getAgent((response.body as Agent).id);
      expect(stored.name).toHaveLength(200);
      expect(stored.allowedScopes).toHaveLength(100);
      expect(stored.metadata).toEqual(metadata);
    });

    it('PATCH changes only the fields given, keeps the id and createdAt, and moves updatedAt', async () => {
      const created = (
        await as(admin)
          .post('/api/v1/agents')
          .send({
            name: 'before',
            description: 'keep me',
            owner: 'a@example.com',
            allowedScopes: ['x'],
          })
      ).body as Agent;
      await new Promise((resolve) => setTimeout(resolve, 5));
      const patched = await as(admin)
        .patch(`/api/v1/agents/${created.id}`)
        .send({ name: 'after', metadata: { v: 2 } });
      expect(patched.status).toBe(200);
      const after = patched.body as Agent;
      expect(after).toEqual({
        ...created,
        name: 'after',
        metadata: { v: 2 },
        updatedAt: expect.stringMatching(ISO_DATE),
      });
      expect(Date.parse(after.updatedAt)).toBeGreaterThan(Date.parse(created.updatedAt));
      expect(await getAgent(created.id)).toEqual(after);

      const cleared = await as(admin)
        .patch(`/api/v1/agents/${created.id}`)
        .send({ description: null, owner: null, allowedScopes: [] });
      expect(cleared.status).toBe(200);
      expect(await getAgent(created.id)).toMatchObject({
        name: 'after',
        description: null,
        owner: null,
        allowedScopes: [],
      });
    });

    it('PATCH refuses unknown fields, bad values and null for required fields with 400, changing nothing', async () => {
      const created = await createAgent(t, admin, { name: 'stable', metadata: { a: 1 } });
      const before = await getAgent(created.id);
      const bodies: Record<string, unknown>[] = [
        { colour: 'blue' },
        { id: randomUUID() },
        { status: 'deleted' },
        { name: '' },
        { name: 'a'.repeat(201) },
        { allowedScopes: ['bad scope'] },
        { metadata: [] },
        { name: null },
        { status: null },
        { metadata: null },
        { allowedScopes: null },
      ];
      const failures: string[] = [];
      for (const body of bodies) {
        const response = await as(admin).patch(`/api/v1/agents/${created.id}`).send(body);
        if (
          response.status !== 400 ||
          (response.body as { code?: string }).code !== 'VALIDATION_FAILED'
        )
          failures.push(`PATCH ${JSON.stringify(body)} → ${response.status} ${response.text}`);
      }
      expect(failures).toEqual([]);
      expect(await getAgent(created.id)).toEqual(before);
    });

    it('suspends and reactivates an agent through PATCH status', async () => {
      const agent = await createAgent(t, admin);
      const suspended = await as(admin)
        .patch(`/api/v1/agents/${agent.id}`)
        .send({ status: 'suspended' });
      expect(suspended.status).toBe(200);
      expect((await getAgent(agent.id)).status).toBe('suspended');
      const active = await as(admin).patch(`/api/v1/agents/${agent.id}`).send({ status: 'active' });
      expect((active.body as Agent).status).toBe('active');
    });

    it('never lets a concurrent PATCH of other fields undo a suspension or drop a change', async () => {
      for (let round = 0; round < 10; round += 1) {
        const agent = await createAgent(t, admin);
        const [renamed, suspended] = await Promise.all([
          as(admin)
            .patch(`/api/v1/agents/${agent.id}`)
            .send({ name: `renamed ${round}` }),
          as(admin).patch(`/api/v1/agents/${agent.id}`).send({ status: 'suspended' }),
        ]);
        expect([renamed.status, suspended.status]).toEqual([200, 200]);
        expect(await getAgent(agent.id)).toMatchObject({
          name: `renamed ${round}`,
          status: 'suspended',
        });
      }
    });

    it('DELETE removes the agent with its credentials, then answers 404 AGENT_NOT_FOUND', async () => {
      const agent = await createAgent(t, admin);
      const credential = await createCredential(t, admin, agent.id);
      expect((await as(admin).delete(`/api/v1/agents/${agent.id}`)).status).toBe(204);
      for (const request of [
        () => as(admin).get(`/api/v1/agents/${agent.id}`),
        () => as(admin).patch(`/api/v1/agents/${agent.id}`).send({ name: 'ghost' }),
        () => as(admin).delete(`/api/v1/agents/${agent.id}`),
        () => as(admin).get(`/api/v1/agents/${agent.id}/credentials`),
        () => as(admin).post(`/api/v1/agents/${agent.id}/credentials`),
      ]) {
        expectError(await request(), 404, ErrorCode.AGENT_NOT_FOUND);
      }
      const rows = await t.dataSource.query<unknown[]>(
        'SELECT 1 FROM credentials WHERE agent_id = $1',
        [agent.id],
      );
      expect(rows).toHaveLength(0);
      expectOAuthError(
        await requestToken(t, credential.clientId, credential.clientSecret),
        401,
        'invalid_client',
      );
    });

    it('answers 400 INVALID_UUID for a malformed id and 404 AGENT_NOT_FOUND for an unknown one', async () => {
      for (const id of ['not-a-uuid', '123', `${randomUUID()}0`, randomUUID().replace(/-/g, '')]) {
        expectError(await as(admin).get(`/api/v1/agents/${id}`), 400, ErrorCode.INVALID_UUID);
        expectError(
          await as(admin).patch(`/api/v1/agents/${id}`).send({ name: 'x' }),
          400,
          ErrorCode.INVALID_UUID,
        );
        expectError(await as(admin).delete(`/api/v1/agents/${id}`), 400, ErrorCode.INVALID_UUID);
      }
      const unknown = randomUUID();
      expectError(await as(admin).get(`/api/v1/agents/${unknown}`), 404, ErrorCode.AGENT_NOT_FOUND);
      expectError(
        await as(admin).patch(`/api/v1/agents/${unknown}`).send({ name: 'x' }),
        404,
        ErrorCode.AGENT_NOT_FOUND,
      );
      expectError(
        await as(admin).delete(`/api/v1/agents/${unknown}`),
        404,
        ErrorCode.AGENT_NOT_FOUND,
      );
    });
  });

  describe('agent list pagination', () => {
    async function pageThrough(
      query: string,
      limit: number,
    ): Promise<{ ids: string[]; pages: number }> {
      const ids: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url: string = `/api/v1/agents?limit=${limit}${query}${
          cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''
        }`;
        const response = await as(admin).get(url);
        expect(response.status).toBe(200);
        const page = response.body as { items: Agent[]; nextCursor: string | null };
        expect(page.items.length).toBeLessThanOrEqual(limit);
        if (page.nextCursor !== null) expect(page.items).toHaveLength(limit);
        ids.push(...page.items.map((agent) => agent.id));
        cursor = page.nextCursor;
        pages += 1;
        if (pages > 500) throw new Error('pagination does not terminate');
      } while (cursor);
      return { ids, pages };
    }

    async function idsInOrder(where = ''): Promise<string[]> {
      const rows = await t.dataSource.query<{ id: string }[]>(
        `SELECT id FROM agents ${where} ORDER BY created_at, id`,
      );
      return rows.map((row) => row.id);
    }

    it('pages through every agent exactly once in a stable (createdAt, id) order', async () => {
      // Created concurrently, so several share a createdAt millisecond and the id breaks the tie.
      await Promise.all(
        Array.from({ length: 25 }, (_, i) => createAgent(t, admin, { name: `page ${i}` })),
      );
      const expected = await idsInOrder();
      expect(expected.length).toBeGreaterThan(25);

      for (const limit of [1, 7, 10, 100]) {
        const { ids, pages } = await pageThrough('', limit);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toEqual(expected);
        expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
      }

      // The order by createdAt then id is visible in the items themselves.
      const page = (await as(admin).get('/api/v1/agents?limit=100')).body as { items: Agent[] };
      for (let i = 1; i < page.items.length; i += 1) {
        const [a, b] = [page.items[i - 1], page.items[i]];
        expect(a.createdAt <= b.createdAt).toBe(true);
        if (a.createdAt === b.createdAt) expect(a.id < b.id).toBe(true);
      }
    });

    it('keeps the cursor valid while agents are added and removed between pages', async () => {
      const first = await as(admin).get('/api/v1/agents?limit=5');
      const page1 = first.body as { items: Agent[]; nextCursor: string };
      expect(page1.nextCursor).toEqual(expect.any(String));
      const seen = page1.items.map((agent) => agent.id);
      const before = await idsInOrder();

      // One agent already seen and one not yet seen disappear; a new one appears.
      await as(admin).delete(`/api/v1/agents/${seen[1]}`);
      const removedAhead = before[10];
      await as(admin).delete(`/api/v1/agents/${removedAhead}`);
      const added = await createAgent(t, admin, { name: 'late arrival' });

      let cursor: string | null = page1.nextCursor;
      const rest: string[] = [];
      while (cursor) {
        const response = await as(admin).get(
          `/api/v1/agents?limit=5&cursor=${encodeURIComponent(cursor)}`,
        );
        expect(response.status).toBe(200);
        const page = response.body as { items: Agent[]; nextCursor: string | null };
        rest.push(...page.items.map((agent) => agent.id));
        cursor = page.nextCursor;
      }
      const expectedRest = before.slice(5).filter((id) => id !== removedAhead);
      expect(rest).toEqual([...expectedRest, added.id]);
    });

    it('filters by status, also across pages', async () => {
      const suspendedIds: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const agent = await createAgent(t, admin, { name: `suspended ${i}` });
        await as(admin).patch(`/api/v1/agents/${agent.id}`).send({ status: 'suspended' });
        suspendedIds.push(agent.id);
      }
      const suspended = await pageThrough('&status=suspended', 3);
      expect(suspended.ids).toEqual(await idsInOrder("WHERE status = 'suspended'"));
      expect(suspended.ids).toEqual(expect.arrayContaining(suspendedIds));
      const active = await pageThrough('&status=active', 50);
      expect(active.ids).toEqual(await idsInOrder("WHERE status = 'active'"));
      expect(active.ids.some((id) => suspendedIds.includes(id))).toBe(false);
    });

    it('refuses a bad limit, cursor, status or unknown parameter with 400 VALIDATION_FAILED', async () => {
      const fakeCursor = (text: string) => Buffer.from(text).toString('base64url');
      const failures: string[] = [];
      for (const query of [
        'limit=0',
        'limit=101',
        'limit=-1',
        'limit=abc',
        'limit=1.5',
        'limit=',
        'limit=1&limit=2',
        'status=deleted',
        'status=ACTIVE',
        'status=active&status=suspended',
        'cursor=not-a-cursor',
        `cursor=${fakeCursor('2020-01-01T00:00:00.000Z')}`,
        `cursor=${fakeCursor("2020-01-01T00:00:00.000Z|' OR 1=1 --")}`,
        `cursor=${fakeCursor(`garbage|${randomUUID()}`)}`,
        `cursor=${fakeCursor(`2020-01-01T00:00:00.000Z|${randomUUID()}|x`)}`,
        `cursor=${'c'.repeat(201)}`,
        // Well-formed, but dated outside what the database can compare against.
        `cursor=${fakeCursor(`-271821-04-20T00:00:00.000Z|${randomUUID()}`)}`,
        `cursor=${fakeCursor(`-010000-01-01T00:00:00.000Z|${randomUUID()}`)}`,
        'sort=name',
      ]) {
        const response = await as(admin).get(`/api/v1/agents?${query}`);
        const body = response.body as { code?: string; statusCode?: number; requestId?: string };
        if (
          response.status !== 400 ||
          body.code !== ErrorCode.VALIDATION_FAILED ||
          body.statusCode !== 400 ||
          body.requestId !== response.headers['x-request-id']
        ) {
          const cursor = /^cursor=(.*)$/.exec(query)?.[1];
          const decoded = cursor
            ? ` (cursor decodes to ${JSON.stringify(Buffer.from(cursor, 'base64url').toString())})`
            : '';
          failures.push(`GET /agents?${query}${decoded} → ${response.status} ${response.text}`);
        }
      }
      expect(failures).toEqual([]);
    });
  });

  describe('credentials', () => {
    function expectNoSecret(response: Response): void {
      expect(response.text).not.toContain('aidp_');
      expect(response.text).not.toContain('$2b$');
      expect(response.text).not.toContain('$2a$');
      expect(response.text.toLowerCase()).not.toMatch(/secret|hash|vault/);
    }

    it('creates a credential with a one-time secret that list and get never show again', async () => {
      const agent = await createAgent(t, admin);
      const created = await as(admin).post(`/api/v1/agents/${agent.id}/credentials`);
      expect(created.status).toBe(201);
      expect(created.headers['cache-control']).toBe('no-store');
      const credential = created.body as Credential;
      expect(credential).toEqual({
        credentialId: expect.stringMatching(UUID),
        agentId: agent.id,
        clientId: agent.id,
        status: 'active',
        storage: 'bcrypt',
        createdAt: expect.stringMatching(ISO_DATE),
        expiresAt: null,
        lastUsedAt: null,
        rotatedAt: null,
        clientSecret: expect.stringMatching(/^aidp_/),
      });

      const { clientSecret, ...withoutSecret } = credential;
      expect(clientSecret).toBeDefined();
      const list = await as(admin).get(`/api/v1/agents/${agent.id}/credentials`);
      expect(list.status).toBe(200);
      expect(list.body).toEqual({ items: [withoutSecret] });
      expectNoSecret(list);
      const one = await as(admin).get(
        `/api/v1/agents/${agent.id}/credentials/${credential.credentialId}`,
      );
      expect(one.body).toEqual(withoutSecret);
      expectNoSecret(one);

      // Rotation shows the new secret once; reads afterwards still do not.
      const rotated = await as(admin).post(
        `/api/v1/agents/${agent.id}/credentials/${credential.credentialId}/rotate`,
      );
      expect(rotated.status).toBe(200);
      expect((rotated.body as Credential).clientSecret).toMatch(/^aidp_/);
      expect((rotated.body as Credential).rotatedAt).toEqual(expect.stringMatching(ISO_DATE));
      const afterRotation = await as(admin).get(`/api/v1/agents/${agent.id}/credentials`);
      expectNoSecret(afterRotation);
      expect((afterRotation.body as { items: Credential[] }).items[0].rotatedAt).toBe(
        (rotated.body as Credential).rotatedAt,
      );

      // After use, lastUsedAt is filled in, and still no secret shows.
      expect(
        (await requestToken(t, agent.id, (rotated.body as Credential).clientSecret as string))
          .status,
      ).toBe(200);
      // Written within a second, with every other credential due then (one statement).
      await t.app.get(ClientAuthenticator).flush();
      const used = await as(admin).get(
        `/api/v1/agents/${agent.id}/credentials/${credential.credentialId}`,
      );
      expectNoSecret(used);
      expect((used.body as Credential).lastUsedAt).toEqual(expect.stringMatching(ISO_DATE));
    });

    it('lists several credentials oldest first', async () => {
      const agent = await createAgent(t, admin);
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1)
        ids.push((await createCredential(t, admin, agent.id)).credentialId);
      const list = await as(admin).get(`/api/v1/agents/${agent.id}/credentials`);
      expect((list.body as { items: Credential[] }).items.map((c) => c.credentialId)).toEqual(ids);
    });

    it('sets an expiry from expiresInSeconds or expiresAt, and refuses both, a past date or a too short one', async () => {
      const agent = await createAgent(t, admin);
      const base = `/api/v1/agents/${agent.id}/credentials`;

      const start = Date.now();
      const relative = await as(admin).post(base).send({ expiresInSeconds: 3600 });
      expect(relative.status).toBe(201);
      const relativeExpiry = Date.parse((relative.body as Credential).expiresAt as string);
      expect(relativeExpiry).toBeGreaterThanOrEqual(start + 3600_000 - 1000);
      expect(relativeExpiry).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);

      const at = new Date(Date.now() + 86_400_000).toISOString();
      const absolute = await as(admin).post(base).send({ expiresAt: at });
      expect(absolute.status).toBe(201);
      expect((absolute.body as Credential).expiresAt).toBe(at);
      const listed = await as(admin).get(`${base}/${(absolute.body as Credential).credentialId}`);
      expect((listed.body as Credential).expiresAt).toBe(at);

      const countBefore = ((await as(admin).get(base)).body as { items: unknown[] }).items.length;
      for (const body of [
        { expiresAt: at, expiresInSeconds: 3600 },
        { expiresAt: new Date(Date.now() - 60_000).toISOString() },
        { expiresAt: 'tomorrow' },
        { expiresAt: '2099-02-30T00:00:00Z' },
        { expiresInSeconds: 59 },
        { expiresInSeconds: 0 },
        { expiresInSeconds: -60 },
        { expiresInSeconds: 90.5 },
        { expiresInSeconds: 'soon' },
        { expiresInSeconds: 11 * 365 * 24 * 3600 },
        { secret: 'aidp_chosen_by_me' },
      ]) {
        const response = await as(admin).post(base).send(body);
        try {
          expectError(response, 400, ErrorCode.VALIDATION_FAILED);
        } catch (error) {
          throw new Error(`POST credentials ${JSON.stringify(body)}: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
      expect(((await as(admin).get(base)).body as { items: unknown[] }).items).toHaveLength(
        countBefore,
      );
    });

    it('gives invalid_client at the token endpoint once a credential has expired', async () => {
      const agent = await createAgent(t, admin);
      const base = `/api/v1/agents/${agent.id}/credentials`;
      const created = (await as(admin).post(base).send({ expiresInSeconds: 60 }))
        .body as Credential;
      const secret = created.clientSecret as string;
      const token = await tokenFor(t, agent.id, secret); // also warms the verified-secret cache
      expect(token).toEqual(expect.any(String));

      await t.dataSource.query(
        "UPDATE credentials SET expires_at = now() - interval '1 second' WHERE id = $1",
        [created.credentialId],
      );
      const refused = await requestToken(t, agent.id, secret);
      expectOAuthError(refused, 401, 'invalid_client');
      expect(refused.body).toMatchObject({ error_description: 'Client authentication failed' });
      const basic = await t.http
        .post('/api/v1/token')
        .auth(agent.id, secret)
        .type('form')
        .send({ grant_type: 'client_credentials' });
      expectOAuthError(basic, 401, 'invalid_client');
      expect(basic.headers['www-authenticate']).toMatch(/^Basic/);

      // Another credential of the same agent is unaffected.
      const other = await createCredential(t, admin, agent.id);
      expect((await requestToken(t, agent.id, other.clientSecret)).status).toBe(200);
    });

    it('DELETE answers 204, then the credential is 404 CREDENTIAL_NOT_FOUND everywhere', async () => {
      const agent = await createAgent(t, admin);
      const credential = await createCredential(t, admin, agent.id);
      const path = `/api/v1/agents/${agent.id}/credentials/${credential.credentialId}`;
      const deleted = await as(admin).delete(path);
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      expectError(await as(admin).get(path), 404, ErrorCode.CREDENTIAL_NOT_FOUND);
      expectError(await as(admin).post(`${path}/rotate`), 404, ErrorCode.CREDENTIAL_NOT_FOUND);
      expectError(await as(admin).delete(path), 404, ErrorCode.CREDENTIAL_NOT_FOUND);
      expect((await as(admin).get(`/api/v1/agents/${agent.id}/credentials`)).body).toEqual({
        items: [],
      });
    });

    it("answers 404 CREDENTIAL_NOT_FOUND for an unknown credential or another agent's one, changing nothing", async () => {
      const owner = await createAgent(t, admin);
      const credential = await createCredential(t, admin, owner.id);
      const intruder = await createAgent(t, admin);
      for (const path of [
        `/api/v1/agents/${owner.id}/credentials/${randomUUID()}`,
        `/api/v1/agents/${intruder.id}/credentials/${credential.credentialId}`,
      ]) {
        expectError(await as(admin).get(path), 404, ErrorCode.CREDENTIAL_NOT_FOUND);
        expectError(await as(admin).post(`${path}/rotate`), 404, ErrorCode.CREDENTIAL_NOT_FOUND);
        expectError(await as(admin).delete(path), 404, ErrorCode.CREDENTIAL_NOT_FOUND);
      }
      expect((await requestToken(t, owner.id, credential.clientSecret)).status).toBe(200);
      const list = await as(admin).get(`/api/v1/agents/${owner.id}/credentials`);
      expect((list.body as { items: Credential[] }).items.map((c) => c.rotatedAt)).toEqual([null]);
    });

    it('refuses a credential beyond the 50th of one agent with 409 CONFLICT', async () => {
      const agent = await createAgent(t, admin);
      const base = `/api/v1/agents/${agent.id}/credentials`;
      for (let i = 0; i < 50; i += 1) expect((await as(admin).post(base)).status).toBe(201);
      expectError(await as(admin).post(base), 409, ErrorCode.CONFLICT);
      expect(((await as(admin).get(base)).body as { items: unknown[] }).items).toHaveLength(50);
    });

    it('answers 400 INVALID_UUID for malformed ids in credential paths', async () => {
      const agent = await createAgent(t, admin);
      const credential = await createCredential(t, admin, agent.id);
      for (const path of [
        '/api/v1/agents/nope/credentials',
        `/api/v1/agents/nope/credentials/${credential.credentialId}`,
        `/api/v1/agents/${agent.id}/credentials/nope`,
      ]) {
        expectError(await as(admin).get(path), 400, ErrorCode.INVALID_UUID);
      }
      expectError(
        await as(admin).post(`/api/v1/agents/${agent.id}/credentials/nope/rotate`),
        400,
        ErrorCode.INVALID_UUID,
      );
      expectError(
        await as(admin).delete(`/api/v1/agents/${agent.id}/credentials/nope`),
        400,
        ErrorCode.INVALID_UUID,
      );
      expectError(
        await as(admin).post('/api/v1/agents/nope/credentials'),
        400,
        ErrorCode.INVALID_UUID,
      );
    });
  });

  describe('error bodies and request ids', () => {
    it('echoes a plain X-Request-Id and carries it in the error body', async () => {
      const response = await t.http.get('/api/v1/agents').set('x-request-id', 'abc-123');
      expectError(response, 401, ErrorCode.UNAUTHORIZED);
      expect(response.headers['x-request-id']).toBe('abc-123');
      expect((response.body as { requestId: string }).requestId).toBe('abc-123');

      const ok = await as(admin).get('/api/v1/agents?limit=1').set('x-request-id', 'trace.42:x_y');
      expect(ok.status).toBe(200);
      expect(ok.headers['x-request-id']).toBe('trace.42:x_y');
    });

    it('gives each request its own id when none is sent', async () => {
      const first = await t.http.get('/api/v1/agents');
      const second = await t.http.get('/api/v1/agents');
      const ids = [first, second].map((r) => (r.body as { requestId: string }).requestId);
      expect(ids[0]).not.toBe(ids[1]);
      expect(first.headers['x-request-id']).toBe(ids[0]);
    });

    it('answers the OAuth endpoints with RFC 6749 error bodies carrying the request id', async () => {
      expectOAuthError(
        await t.http.post('/api/v1/token').type('form').send({ grant_type: 'client_credentials' }),
        401,
        'invalid_client',
      );
      expectOAuthError(
        await t.http.post('/api/v1/token').type('form').send({ client_id: t.admin.clientId }),
        400,
        'invalid_request',
      );
      const introspect = await t.http
        .post('/api/v1/token/introspect')
        .set('x-request-id', 'oauth-1')
        .type('form')
        .send({ token: 'x' });
      expectOAuthError(introspect, 401, 'invalid_client');
      expect((introspect.body as { requestId: string }).requestId).toBe('oauth-1');
      expectOAuthError(
        await t.http
          .post('/api/v1/token/revoke')
          .auth(t.admin.clientId, t.admin.clientSecret)
          .type('form')
          .send({}),
        400,
        'invalid_request',
      );
    });
  });
});
