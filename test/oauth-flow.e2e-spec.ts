import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RateLimitGuard } from '@agentidp/abuse';
import { postgresPool } from '@agentidp/common';
import { TokenEndpoint } from '@agentidp/token';
import { createAgent, createCredential, requestToken, tokenFor } from './support/api';
import { startTestApp, type TestApp } from './support/test-app';

const run = promisify(execFile);

function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/**
 * Requests written at once on connections opened beforehand, so that the server reads them
 * in one turn of its event loop (and looks their clients up in one statement).
 */
async function sendTogether(
  baseUrl: string,
  path: string,
  bodies: string[],
  authorization?: string,
): Promise<{ status: number; body: Record<string, unknown> }[]> {
  const { hostname, port } = new URL(baseUrl);
  const sockets = await Promise.all(
    bodies.map(
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(Number(port), hostname, () => resolve(socket));
          socket.on('error', reject);
        }),
    ),
  );
  // Accepted by the server before anything is written.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const answers = sockets.map(
    (socket) =>
      new Promise<string>((resolve, reject) => {
        socket.on('error', reject);
        let text = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (text += chunk));
        socket.on('end', () => resolve(text));
      }),
  );
  sockets.forEach((socket, index) =>
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n` +
        (authorization ? `Authorization: ${authorization}\r\n` : '') +
        `Content-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${Buffer.byteLength(bodies[index])}\r\n\r\n${bodies[index]}`,
    ),
  );
  return (await Promise.all(answers)).map((text) => {
    const [head, body] = text.split('\r\n\r\n');
    return {
      status: Number(head.split(' ')[1]),
      body: JSON.parse(body) as Record<string, unknown>,
    };
  });
}

/** The names of the prepared statements the app sends while `run` runs (their size is the suffix). */
async function statementsDuring<T>(t: TestApp, run: () => Promise<T>): Promise<[T, string[]]> {
  const pool = postgresPool(t.dataSource) as unknown as { query(...args: unknown[]): unknown };
  const query = pool.query.bind(pool);
  const names: string[] = [];
  const spy = jest.spyOn(pool, 'query').mockImplementation((...args: unknown[]) => {
    const name = (args[0] as { name?: unknown } | undefined)?.name;
    if (typeof name === 'string') names.push(name);
    return query(...args);
  });
  try {
    return [await run(), names];
  } finally {
    spy.mockRestore();
  }
}

describe('OAuth 2.0 client_credentials flow', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
  });

  afterAll(async () => {
    await t.close();
  });

  it('issues an RFC 9068 access token that verifies against the JWKS', async () => {
    const agent = await createAgent(t, admin, {
      allowedScopes: ['invoices:read', 'invoices:write'],
    });
    const credential = await createCredential(t, admin, agent.id);
    expect(credential.clientSecret).toMatch(/^aidp_[A-Za-z0-9_-]{70}$/);

    const response = await requestToken(t, credential.clientId, credential.clientSecret, {
      scope: 'invoices:read',
    });
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers.pragma).toBe('no-cache');
    expect(response.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'invoices:read',
    });

    const token = (response.body as { access_token: string }).access_token;
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const claims = decodePayload(token);
    expect(claims).toMatchObject({
      iss: t.config.http.publicUrl,
      sub: agent.id,
      client_id: agent.id,
      aud: t.config.token.audience,
      scope: 'invoices:read',
    });
    expect(typeof claims.jti).toBe('string');
    expect((claims.exp as number) - (claims.iat as number)).toBe(3600);
  });

  it('grants every allowed scope when none is asked for, and refuses a wider one', async () => {
    const agent = await createAgent(t, admin, { allowedScopes: ['a', 'b'] });
    const credential = await createCredential(t, admin, agent.id);
    const all = await requestToken(t, credential.clientId, credential.clientSecret);
    expect(all.body.scope).toBe('a b');
    const wider = await requestToken(t, credential.clientId, credential.clientSecret, {
      scope: 'a c',
    });
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe('invalid_scope');
  });

  it('accepts client_secret_basic with form-urlencoded credentials', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const basic = Buffer.from(
      `${encodeURIComponent(credential.clientId)}:${encodeURIComponent(credential.clientSecret)}`,
    ).toString('base64');
    const response = await t.http
      .post('/api/v1/token')
      .set('authorization', `Basic ${basic}`)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(response.status).toBe(200);
  });

  it('accepts a JSON body too', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const response = await t.http.post('/api/v1/token').send({
      grant_type: 'client_credentials',
      client_id: credential.clientId,
      client_secret: credential.clientSecret,
    });
    expect(response.status).toBe(200);
  });

  it('answers RFC 6749 errors without telling a wrong id from a wrong secret', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const other = await createAgent(t, admin);

    const wrongSecret = await t.http
      .post('/api/v1/token')
      .auth(credential.clientId, `${credential.clientSecret.slice(0, -2)}xx`)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    const wrongId = await t.http
      .post('/api/v1/token')
      .auth(other.id, credential.clientSecret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    for (const response of [wrongSecret, wrongId]) {
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Basic/);
      expect(response.body).toMatchObject({
        error: 'invalid_client',
        error_description: 'Client authentication failed',
      });
    }

    const post = await requestToken(t, credential.clientId, 'aidp_wrong');
    expect(post.status).toBe(401);
    expect(post.body.error).toBe('invalid_client');

    const grantType = await requestToken(t, credential.clientId, credential.clientSecret, {
      grant_type: 'authorization_code',
    });
    expect(grantType.status).toBe(400);
    expect(grantType.body.error).toBe('unsupported_grant_type');

    const missing = await t.http
      .post('/api/v1/token')
      .type('form')
      .send({ client_id: credential.clientId });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');

    const repeated = await t.http
      .post('/api/v1/token')
      .type('form')
      .send('grant_type=client_credentials&grant_type=client_credentials');
    expect(repeated.status).toBe(400);
    expect(repeated.body.error).toBe('invalid_request');

    const both = await t.http
      .post('/api/v1/token')
      .auth(credential.clientId, credential.clientSecret)
      .type('form')
      .send({ grant_type: 'client_credentials', client_secret: credential.clientSecret });
    expect(both.status).toBe(400);
    expect(both.body.error).toBe('invalid_request');
  });

  it('stops the old secret at once on rotation and the deleted one on deletion', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const oldToken = await tokenFor(t, credential.clientId, credential.clientSecret);

    const rotated = await t.http
      .post(`/api/v1/agents/${agent.id}/credentials/${credential.credentialId}/rotate`)
      .set('authorization', `Bearer ${admin}`);
    expect(rotated.status).toBe(200);
    expect(rotated.headers['cache-control']).toBe('no-store');
    const newSecret = (rotated.body as { clientSecret: string }).clientSecret;
    expect(newSecret).not.toBe(credential.clientSecret);

    expect((await requestToken(t, credential.clientId, credential.clientSecret)).body.error).toBe(
      'invalid_client',
    );
    expect((await requestToken(t, credential.clientId, newSecret)).status).toBe(200);
    const introspected = await t.http
      .post('/api/v1/token/introspect')
      .set('authorization', `Bearer ${admin}`)
      .type('form')
      .send({ token: oldToken });
    expect(introspected.body).toEqual({ active: false });

    const deleted = await t.http
      .delete(`/api/v1/agents/${agent.id}/credentials/${credential.credentialId}`)
      .set('authorization', `Bearer ${admin}`);
    expect(deleted.status).toBe(204);
    expect((await requestToken(t, credential.clientId, newSecret)).body.error).toBe(
      'invalid_client',
    );
  });

  it('keeps several credentials of one agent valid side by side', async () => {
    const agent = await createAgent(t, admin);
    const first = await createCredential(t, admin, agent.id);
    const second = await createCredential(t, admin, agent.id);
    expect((await requestToken(t, first.clientId, first.clientSecret)).status).toBe(200);
    expect((await requestToken(t, second.clientId, second.clientSecret)).status).toBe(200);
    expect((await requestToken(t, first.clientId, second.clientSecret)).status).toBe(200);
  });

  it('answers concurrent requests, looked up together, each for its own client', async () => {
    const clients = [];
    for (let index = 0; index < 4; index += 1) {
      const agent = await createAgent(t, admin, { allowedScopes: [`scope-${index}`] });
      clients.push(await createCredential(t, admin, agent.id));
    }
    await t.http
      .patch(`/api/v1/agents/${clients[3].agentId}`)
      .set('authorization', `Bearer ${admin}`)
      .send({ status: 'suspended' });
    // Good secrets, a secret of another agent's credential, an agent that does not exist and a
    // suspended one, all at once and twice over (the second round meets warm secrets).
    const requests = [
      ...clients
        .slice(0, 3)
        .map((client, index) => ({ client, secret: client.clientSecret, index })),
      { client: clients[0], secret: clients[1].clientSecret, index: -1 },
      {
        client: { ...clients[2], clientId: randomUUID() },
        secret: clients[2].clientSecret,
        index: -1,
      },
      { client: clients[3], secret: clients[3].clientSecret, index: -2 },
    ];
    for (let round = 0; round < 2; round += 1) {
      const [answers, statements] = await statementsDuring(t, () =>
        sendTogether(
          t.baseUrl,
          '/api/v1/token',
          [...requests, ...requests].map(({ client, secret }) =>
            new URLSearchParams({
              grant_type: 'client_credentials',
              client_id: client.clientId,
              client_secret: secret,
            }).toString(),
          ),
        ),
      );
      // Written together, looked up together: one statement carried several of them.
      expect(
        statements.filter((name) => /^agentidp_auth_lookup_([2-9]|\d\d)/.test(name)),
      ).not.toEqual([]);
      answers.forEach((answer, position) => {
        const { client, index } = requests[position % requests.length];
        if (index >= 0) {
          expect(answer.status).toBe(200);
          const claims = decodePayload(answer.body.access_token as string);
          expect(claims).toMatchObject({ sub: client.agentId, scope: `scope-${index}` });
        } else if (index === -1) {
          expect([answer.status, answer.body.error]).toEqual([401, 'invalid_client']);
        } else {
          expect([answer.status, answer.body.error]).toEqual([400, 'unauthorized_client']);
        }
      });
    }
  });

  it('introspects concurrent tokens, checked together, each for what it is', async () => {
    const live = [];
    for (let index = 0; index < 2; index += 1) {
      const agent = await createAgent(t, admin);
      const credential = await createCredential(t, admin, agent.id);
      live.push({
        agentId: agent.id,
        token: await tokenFor(t, credential.clientId, credential.clientSecret),
      });
    }
    const revokedBy = await createCredential(t, admin, (await createAgent(t, admin)).id);
    const revoked = await tokenFor(t, revokedBy.clientId, revokedBy.clientSecret);
    const revocation = await t.http.post('/api/v1/token/revoke').type('form').send({
      client_id: revokedBy.clientId,
      client_secret: revokedBy.clientSecret,
      token: revoked,
    });
    expect(revocation.status).toBe(200);
    const suspendedAgent = await createAgent(t, admin);
    const ofSuspended = await createCredential(t, admin, suspendedAgent.id);
    const suspendedToken = await tokenFor(t, ofSuspended.clientId, ofSuspended.clientSecret);
    await t.http
      .patch(`/api/v1/agents/${suspendedAgent.id}`)
      .set('authorization', `Bearer ${admin}`)
      .send({ status: 'suspended' });

    const tokens = [live[0].token, revoked, live[1].token, suspendedToken, live[0].token];
    const [answers, statements] = await statementsDuring(t, () =>
      sendTogether(
        t.baseUrl,
        '/api/v1/token/introspect',
        tokens.map((token) => new URLSearchParams({ token }).toString()),
        `Bearer ${admin}`,
      ),
    );
    expect(
      statements.filter((name) => /^agentidp_token_state_([2-9]|\d\d)/.test(name)),
    ).not.toEqual([]);

    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((answer) => answer.body.active)).toEqual([true, false, true, false, true]);
    expect(answers[0].body.sub).toBe(live[0].agentId);
    expect(answers[2].body.sub).toBe(live[1].agentId);
    expect(answers[4].body.sub).toBe(live[0].agentId);
  });

  it('refuses tokens to a suspended agent and deactivates the ones it holds', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const token = await tokenFor(t, credential.clientId, credential.clientSecret);

    const suspended = await t.http
      .patch(`/api/v1/agents/${agent.id}`)
      .set('authorization', `Bearer ${admin}`)
      .send({ status: 'suspended' });
    expect(suspended.body.status).toBe('suspended');

    const refused = await requestToken(t, credential.clientId, credential.clientSecret);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('unauthorized_client');
    const introspected = await t.http
      .post('/api/v1/token/introspect')
      .set('authorization', `Bearer ${admin}`)
      .type('form')
      .send({ token });
    expect(introspected.body).toEqual({ active: false });

    await t.http
      .patch(`/api/v1/agents/${agent.id}`)
      .set('authorization', `Bearer ${admin}`)
      .send({ status: 'active' });
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).status).toBe(200);
  });

  it('deactivates the tokens of a deleted agent', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const token = await tokenFor(t, credential.clientId, credential.clientSecret);
    expect(
      (await t.http.delete(`/api/v1/agents/${agent.id}`).set('authorization', `Bearer ${admin}`))
        .status,
    ).toBe(204);
    const introspected = await t.http
      .post('/api/v1/token/introspect')
      .set('authorization', `Bearer ${admin}`)
      .type('form')
      .send({ token });
    expect(introspected.body).toEqual({ active: false });
    expect((await requestToken(t, credential.clientId, credential.clientSecret)).body.error).toBe(
      'invalid_client',
    );
  });

  it('introspects a tampered token as inactive', async () => {
    const agent = await createAgent(t, admin);
    const credential = await createCredential(t, admin, agent.id);
    const token = await tokenFor(t, credential.clientId, credential.clientSecret);
    const [header, payload, signature] = token.split('.');
    const claims = decodePayload(token);
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'admin' })).toString('base64url');
    for (const candidate of [
      `${header}.${forged}.${signature}`,
      `${header}.${payload}.${signature.slice(0, -4)}AAAA`,
      'garbage',
    ]) {
      const response = await t.http
        .post('/api/v1/token/introspect')
        .set('authorization', `Bearer ${admin}`)
        .type('form')
        .send({ token: candidate });
      expect(response.body).toEqual({ active: false });
    }
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
    const none = await t.http.get('/api/v1/agents').set('authorization', `Bearer ${unsigned}`);
    expect(none.status).toBe(401);
  });

  it('serves the token endpoint outside Nest’s guards, through the same grant and errors', async () => {
    const credential = await createCredential(t, admin, (await createAgent(t, admin)).id);
    const guard = jest.spyOn(RateLimitGuard.prototype, 'canActivate');
    const grant = jest.spyOn(t.app.get(TokenEndpoint), 'grant');
    try {
      const ok = await requestToken(t, credential.clientId, credential.clientSecret);
      expect(ok.status).toBe(200);
      expect(ok.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache' });
      const refused = await requestToken(t, credential.clientId, 'aidp_wrong');
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({
        error: 'invalid_client',
        requestId: refused.headers['x-request-id'],
      });
      expect(grant).toHaveBeenCalledTimes(2);
      expect(guard).not.toHaveBeenCalled();
      // The other OAuth routes still run the guards.
      await t.http.post('/api/v1/token/revoke').type('form').send({ token: 'x' });
      expect(guard).toHaveBeenCalled();
    } finally {
      guard.mockRestore();
      grant.mockRestore();
    }
  });

  it('publishes RFC 8414 metadata and works with a standard OAuth client library', async () => {
    const metadata = await t.http.get('/.well-known/oauth-authorization-server');
    expect(metadata.body).toMatchObject({
      issuer: t.config.http.publicUrl,
      token_endpoint: `${t.config.http.publicUrl}/api/v1/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });

    // The issuer must be reachable at the URL it names: restart with PUBLIC_URL = the bound address.
    const agent = await createAgent(t, admin, { allowedScopes: ['x'] });
    const credential = await createCredential(t, admin, agent.id);
    await t.restart({ PUBLIC_URL: t.baseUrl, PORT: new URL(t.baseUrl).port });
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      const { stdout } = await run(process.execPath, [
        join(__dirname, 'oauth-client', 'standard-client.mjs'),
        t.baseUrl,
        credential.clientId,
        credential.clientSecret,
        method,
      ]);
      const result = JSON.parse(stdout) as Record<string, Record<string, unknown>>;
      expect(result.header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      expect(result.claims).toMatchObject({ sub: agent.id, client_id: agent.id, scope: 'x' });
      expect(result.introspection).toMatchObject({ active: true, client_id: agent.id });
      expect(result.afterRevocation).toEqual({ active: false });
    }
    admin = await t.adminToken();
  });
});
