import { randomUUID } from 'node:crypto';
import type { Response, Test } from 'supertest';
import { ErrorCode } from '@agentidp/common';
import { createAgent, createCredential, type CreatedCredential } from './support/api';
import { startTestApp, type TestApp } from './support/test-app';

/**
 * Hostile and malformed requests. Each one must get a 4xx answer with a stable error code (or an
 * RFC 6749 `error` on the OAuth endpoints), never a 500, and must change no data.
 */

interface Case {
  /** What the case is, as printed on failure. */
  name: string;
  send: () => Test;
  /** The exact status expected, when the rules fix one (else any 4xx). */
  status?: number | number[];
  /** The exact `code` (or OAuth `error`) expected, when the rules fix one. */
  code?: string | string[];
}

interface Answer {
  name: string;
  status: number;
  oauth: boolean;
}

const ERROR_CODES = new Set<string>(Object.values(ErrorCode));
const OAUTH_PATH = /^\/api\/v1\/token(\/|\?|$)/;
/** Percent-encodes the UTF-8 bytes of `value` (encodeURIComponent throws on a lone surrogate). */
function percentEncode(value: string): string {
  return Array.from(
    Buffer.from(value, 'utf8'),
    (byte) => `%${byte.toString(16).padStart(2, '0')}`,
  ).join('');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An agent as read back, less the one field a refused write may still touch. */
function withoutUpdatedAt(agent: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(agent).filter(([key]) => key !== 'updatedAt'));
}

/** Every answer of the barrage, checked once more at the end. */
const answers: Answer[] = [];

function pathOf(test: Test): string {
  const url = new URL(test.url);
  return `${url.pathname}${url.search}`;
}

function problemsWith(testCase: Case, request: Test, response: Response): string[] {
  const problems: string[] = [];
  const body = (response.body ?? {}) as Record<string, unknown>;
  const oauth = OAUTH_PATH.test(pathOf(request));
  const statuses = testCase.status === undefined ? [] : [testCase.status].flat();
  if (response.status < 400) return [`accepted (${response.status}) instead of refused`];
  if (response.status >= 500) problems.push('server error instead of a 4xx');
  if (statuses.length && !statuses.includes(response.status))
    problems.push(`status should be ${statuses.join(' or ')}`);
  const requestId = response.headers['x-request-id'] as string | undefined;
  if (!requestId) problems.push('no x-request-id header');
  if (body.requestId !== requestId) problems.push('body requestId differs from x-request-id');
  const codes = testCase.code === undefined ? [] : [testCase.code].flat();
  if (oauth) {
    if (typeof body.error !== 'string') problems.push('no OAuth error');
    if (typeof body.error_description !== 'string') problems.push('no error_description');
    if (codes.length && !codes.includes(body.error as string))
      problems.push(`error should be ${codes.join(' or ')}`);
  } else {
    if (typeof body.code !== 'string' || !ERROR_CODES.has(body.code))
      problems.push('no known error code');
    if (body.statusCode !== response.status) problems.push('statusCode differs from the status');
    if (typeof body.message !== 'string') problems.push('no message');
    if (codes.length && !codes.includes(body.code as string))
      problems.push(`code should be ${codes.join(' or ')}`);
  }
  if (/QueryFailedError|SyntaxError|stack|node_modules|at \w+ \(/.test(response.text))
    problems.push('internals leak into the body');
  return problems;
}

/**
 * Sends every case (one at a time, so answers are easy to follow) and fails once at the end with
 * every case that went wrong: method, path, status and the body it got.
 */
async function barrage(cases: Case[]): Promise<void> {
  const failures: string[] = [];
  for (const testCase of cases) {
    const request = testCase.send();
    let response: Response;
    try {
      response = await request;
    } catch (error) {
      failures.push(`${testCase.name}: request failed: ${(error as Error).message}`);
      continue;
    }
    answers.push({
      name: testCase.name,
      status: response.status,
      oauth: OAUTH_PATH.test(pathOf(request)),
    });
    const problems = problemsWith(testCase, request, response);
    if (problems.length) {
      failures.push(
        `${testCase.name}\n    ${request.method} ${pathOf(request).slice(0, 120)} → ${
          response.status
        } ${response.text.slice(0, 300)}\n    ${problems.join('; ')}`,
      );
    }
  }
  if (failures.length) {
    throw new Error(
      `${failures.length} of ${cases.length} cases failed:\n  ${failures.join('\n  ')}`,
    );
  }
}

describe('Bad input', () => {
  let t: TestApp;
  let admin: string;
  let agent: { id: string };
  let credential: CreatedCredential;
  let snapshot: unknown;
  let agentCount: number;
  let credentialCount: number;

  const auth = (test: Test): Test => test.set('authorization', `Bearer ${admin}`);
  const json = (test: Test, raw: string): Test =>
    test.set('content-type', 'application/json').send(raw);

  async function count(table: 'agents' | 'credentials'): Promise<number> {
    const rows = await t.dataSource.query<{ count: string }[]>(
      `SELECT count(*)::text AS count FROM ${table}`,
    );
    return Number(rows[0].count);
  }

  async function readAgent(id: string): Promise<Record<string, unknown>> {
    const response = await auth(t.http.get(`/api/v1/agents/${id}`));
    expect(response.status).toBe(200);
    return response.body as Record<string, unknown>;
  }

  beforeAll(async () => {
    t = await startTestApp();
    admin = await t.adminToken();
    agent = await createAgent(t, admin, {
      name: 'fixture',
      description: 'untouched',
      allowedScopes: ['read'],
      metadata: { keep: true },
    });
    credential = await createCredential(t, admin, agent.id);
    snapshot = withoutUpdatedAt(await readAgent(agent.id));
    agentCount = await count('agents');
    credentialCount = await count('credentials');
  });

  afterAll(async () => {
    await t.close();
  });

  it('refuses malformed JSON with 400 INVALID_JSON', async () => {
    const bodies = [
      '{"name":',
      '{name: "x"}',
      "{'name': 'x'}",
      '{"name":"x",}',
      '{"name":"x"} trailing',
      '{"name":"x"}{"name":"y"}',
      '{"name":"\\x41"}',
      'name=x',
      '\u0000',
      '[',
      '{"name": NaN}',
      '{"name": undefined}',
    ];
    await barrage(
      bodies.flatMap((raw) => [
        {
          name: `POST /agents with ${JSON.stringify(raw)}`,
          send: () => json(auth(t.http.post('/api/v1/agents')), raw),
          status: 400,
          code: ErrorCode.INVALID_JSON,
        },
        {
          name: `PATCH /agents/{id} with ${JSON.stringify(raw)}`,
          send: () => json(auth(t.http.patch(`/api/v1/agents/${agent.id}`)), raw),
          status: 400,
          code: ErrorCode.INVALID_JSON,
        },
      ]),
    );
    await barrage([
      {
        name: 'POST credentials with broken JSON',
        send: () => json(auth(t.http.post(`/api/v1/agents/${agent.id}/credentials`)), '{"a":'),
        status: 400,
        code: ErrorCode.INVALID_JSON,
      },
      {
        name: 'POST /token with broken JSON',
        send: () => json(t.http.post('/api/v1/token'), '{"grant_type":'),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'POST /token/introspect with broken JSON',
        send: () => json(auth(t.http.post('/api/v1/token/introspect')), '{"token"'),
        status: 400,
        code: 'invalid_request',
      },
    ]);
  });

  it('refuses bodies that are not application/json with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const cases: Case[] = [];
    const routes: [string, () => Test][] = [
      ['POST /agents', () => auth(t.http.post('/api/v1/agents'))],
      ['PATCH /agents/{id}', () => auth(t.http.patch(`/api/v1/agents/${agent.id}`))],
      ['POST credentials', () => auth(t.http.post(`/api/v1/agents/${agent.id}/credentials`))],
      [
        'POST rotate',
        () =>
          auth(
            t.http.post(`/api/v1/agents/${agent.id}/credentials/${credential.credentialId}/rotate`),
          ),
      ],
    ];
    for (const [route, request] of routes) {
      cases.push(
        {
          name: `${route} as text/plain`,
          send: () => request().set('content-type', 'text/plain').send('{"name":"x"}'),
          status: 415,
          code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        },
        {
          name: `${route} as multipart/form-data`,
          send: () => request().field('name', 'x'),
          status: 415,
          code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        },
        {
          name: `${route} as form-urlencoded`,
          send: () => request().type('form').send('name=x'),
          status: 415,
          code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        },
        {
          name: `${route} as application/xml`,
          send: () => request().set('content-type', 'application/xml').send('<name>x</name>'),
          status: 415,
          code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        },
        {
          name: `${route} as application/json-patch+json`,
          send: () =>
            request().set('content-type', 'application/json-patch+json').send('{"name":"x"}'),
          status: 415,
          code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        },
        {
          name: `${route} with no content type`,
          send: () => request().set('content-type', '').send(Buffer.from('{"name":"x"}')),
          status: 415,
          code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        },
      );
    }
    cases.push(
      {
        name: 'POST /token as text/plain',
        send: () =>
          t.http
            .post('/api/v1/token')
            .set('content-type', 'text/plain')
            .send('grant_type=client_credentials'),
        status: 415,
        code: 'invalid_request',
      },
      {
        name: 'POST /token as multipart/form-data',
        send: () => t.http.post('/api/v1/token').field('grant_type', 'client_credentials'),
        status: 415,
        code: 'invalid_request',
      },
      {
        name: 'POST /token/revoke as text/plain',
        send: () =>
          t.http.post('/api/v1/token/revoke').set('content-type', 'text/plain').send('token=x'),
        status: 415,
      },
      {
        name: 'POST /agents as application/json with a non-UTF-8 charset',
        send: () =>
          auth(t.http.post('/api/v1/agents'))
            .set('content-type', 'application/json; charset=utf-16')
            .send(Buffer.from('{"name":"x"}', 'utf16le')),
      },
    );
    await barrage(cases);
  });

  it('refuses bodies over 64 KiB with 413 PAYLOAD_TOO_LARGE', async () => {
    const big = JSON.stringify({ name: 'x', description: 'd'.repeat(70 * 1024) });
    await barrage([
      {
        name: 'POST /agents with a 70 KiB body',
        send: () => json(auth(t.http.post('/api/v1/agents')), big),
        status: 413,
        code: ErrorCode.PAYLOAD_TOO_LARGE,
      },
      {
        name: 'PATCH /agents/{id} with a 70 KiB body',
        send: () => json(auth(t.http.patch(`/api/v1/agents/${agent.id}`)), big),
        status: 413,
        code: ErrorCode.PAYLOAD_TOO_LARGE,
      },
      {
        name: 'POST /agents with 1 MiB of metadata',
        send: () =>
          auth(t.http.post('/api/v1/agents')).send({
            name: 'x',
            metadata: { blob: 'm'.repeat(1024 * 1024) },
          }),
        status: 413,
        code: ErrorCode.PAYLOAD_TOO_LARGE,
      },
      {
        name: 'POST /token with a 70 KiB form',
        send: () =>
          t.http
            .post('/api/v1/token')
            .type('form')
            .send(`grant_type=client_credentials&scope=${'s'.repeat(70 * 1024)}`),
        status: 413,
      },
    ]);
  });

  it('refuses fields of the wrong type with 400 VALIDATION_FAILED', async () => {
    const post = (body: unknown): Case => ({
      name: `POST /agents ${JSON.stringify(body)}`,
      send: () => auth(t.http.post('/api/v1/agents')).send(body as object),
      status: 400,
      code: ErrorCode.VALIDATION_FAILED,
    });
    const patch = (body: unknown): Case => ({
      name: `PATCH /agents/{id} ${JSON.stringify(body)}`,
      send: () => auth(t.http.patch(`/api/v1/agents/${agent.id}`)).send(body as object),
      status: 400,
      code: ErrorCode.VALIDATION_FAILED,
    });
    const wrong: Record<string, unknown>[] = [
      { name: 123 },
      { name: true },
      { name: ['x'] },
      { name: { first: 'x' } },
      { name: 'x', description: 5 },
      { name: 'x', owner: { email: 'x' } },
      { name: 'x', allowedScopes: 'x' },
      { name: 'x', allowedScopes: [1, 2] },
      { name: 'x', allowedScopes: [['nested']] },
      { name: 'x', allowedScopes: { 0: 'read' } },
      { name: 'x', metadata: [] },
      { name: 'x', metadata: 'x' },
      { name: 'x', metadata: 42 },
      { name: 'x', metadata: null },
    ];
    await barrage([
      ...wrong.map(post),
      post({ name: null }),
      post({ name: 'x', status: 'active' }),
      ...[
        { name: 123 },
        { name: ['x'] },
        { description: 5 },
        { owner: { email: 'x' } },
        { allowedScopes: 'x' },
        { allowedScopes: [1, 2] },
        { metadata: [] },
        { metadata: 'x' },
        { metadata: null },
      ].map(patch),
      patch({ status: 'deleted' }),
      patch({ status: 1 }),
      patch({ allowedScopes: null }),
      patch({ name: null }),
      patch({ status: null }),
      {
        name: 'POST credentials {"expiresInSeconds":null}',
        send: () =>
          auth(t.http.post(`/api/v1/agents/${agent.id}/credentials`)).send({
            expiresInSeconds: null,
          }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: 'POST credentials {"expiresInSeconds":"3600abc"}',
        send: () =>
          auth(t.http.post(`/api/v1/agents/${agent.id}/credentials`)).send({
            expiresInSeconds: '3600abc',
          }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: 'POST credentials {"expiresAt":12345}',
        send: () =>
          auth(t.http.post(`/api/v1/agents/${agent.id}/credentials`)).send({ expiresAt: 12345 }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: 'POST credentials {"expiresAt":"+275760-09-13T00:00:00.000Z"}',
        send: () =>
          auth(t.http.post(`/api/v1/agents/${agent.id}/credentials`)).send({
            expiresAt: '+275760-09-13T00:00:00.000Z',
          }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
    ]);
  });

  it('refuses a JSON array, a bare string, a number or nothing as the body', async () => {
    const shapes = ['[]', '[{"name":"x"}]', '"x"', '"{\\"name\\":\\"x\\"}"', '42', 'true', 'null'];
    const cases: Case[] = [];
    for (const raw of shapes) {
      cases.push({
        name: `POST /agents with body ${raw}`,
        send: () => json(auth(t.http.post('/api/v1/agents')), raw),
        status: 400,
      });
      if (raw !== 'null') {
        cases.push(
          {
            name: `PATCH /agents/{id} with body ${raw}`,
            send: () => json(auth(t.http.patch(`/api/v1/agents/${agent.id}`)), raw),
            status: 400,
          },
          {
            name: `POST credentials with body ${raw}`,
            send: () => json(auth(t.http.post(`/api/v1/agents/${agent.id}/credentials`)), raw),
            status: 400,
          },
        );
      }
      cases.push({
        name: `POST /token with body ${raw}`,
        send: () => json(t.http.post('/api/v1/token'), raw),
        status: [400, 401],
        code: ['invalid_request', 'invalid_client'],
      });
    }
    cases.push(
      {
        name: 'POST /agents with no body',
        send: () => auth(t.http.post('/api/v1/agents')),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: 'POST /agents with an empty JSON body',
        send: () => json(auth(t.http.post('/api/v1/agents')), ''),
        status: 400,
      },
    );
    await barrage(cases);
  });

  it('refuses huge strings field by field, and nested structures deep enough to hurt', async () => {
    const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const deepArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    await barrage([
      {
        name: 'name of 60 000 characters',
        send: () => auth(t.http.post('/api/v1/agents')).send({ name: 'n'.repeat(60_000) }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: 'description of 20 000 characters',
        send: () =>
          auth(t.http.post('/api/v1/agents')).send({ name: 'x', description: 'd'.repeat(20_000) }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: 'owner of 5 000 characters',
        send: () =>
          auth(t.http.post('/api/v1/agents')).send({ name: 'x', owner: 'o'.repeat(5000) }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: 'a scope of 10 000 characters',
        send: () =>
          auth(t.http.post('/api/v1/agents')).send({
            name: 'x',
            allowedScopes: ['s'.repeat(10_000)],
          }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: '5 000 scopes',
        send: () =>
          auth(t.http.post('/api/v1/agents')).send({
            name: 'x',
            allowedScopes: Array.from({ length: 5000 }, (_, i) => `s${i}`),
          }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: 'metadata with 5 000 keys (over 16 KiB)',
        send: () =>
          auth(t.http.post('/api/v1/agents')).send({
            name: 'x',
            metadata: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])),
          }),
        status: 400,
        code: ErrorCode.VALIDATION_FAILED,
      },
      {
        name: 'metadata nested 10 000 levels deep',
        send: () =>
          json(
            auth(t.http.post('/api/v1/agents')),
            `{"name":"x","metadata":${deepObject(10_000)}}`,
          ),
      },
      {
        name: 'name as an array nested 30 000 levels deep',
        send: () => json(auth(t.http.post('/api/v1/agents')), `{"name":${deepArray(30_000)}}`),
      },
      {
        name: 'PATCH metadata nested 10 000 levels deep',
        send: () =>
          json(
            auth(t.http.patch(`/api/v1/agents/${agent.id}`)),
            `{"metadata":${deepObject(10_000)}}`,
          ),
      },
      {
        name: 'POST /token with grant_type nested 30 000 levels deep',
        send: () => json(t.http.post('/api/v1/token'), `{"grant_type":${deepArray(30_000)}}`),
        code: 'invalid_request',
      },
      {
        name: 'POST /token with a 10 000-character client_secret',
        send: () =>
          t.http
            .post('/api/v1/token')
            .type('form')
            .send({
              grant_type: 'client_credentials',
              client_id: agent.id,
              client_secret: 's'.repeat(10_000),
            }),
        code: ['invalid_request', 'invalid_client'],
      },
      {
        name: 'an 8 KiB bearer token',
        send: () => t.http.get('/api/v1/agents').set('authorization', `Bearer ${'a'.repeat(8192)}`),
        status: 401,
        code: ErrorCode.UNAUTHORIZED,
      },
      {
        name: 'POST /token with a __proto__ key in JSON',
        send: () =>
          json(
            t.http.post('/api/v1/token'),
            '{"grant_type":"client_credentials","__proto__":{"x":1}}',
          ),
        code: ['invalid_request', 'invalid_client'],
      },
      {
        name: 'metadata with a __proto__ key',
        send: () =>
          json(
            auth(t.http.post('/api/v1/agents')),
            '{"name":"x","metadata":{"__proto__":{"admin":true}}}',
          ),
      },
      {
        name: 'body with constructor.prototype',
        send: () =>
          json(
            auth(t.http.post('/api/v1/agents')),
            '{"name":"x","constructor":{"prototype":{"admin":true}}}',
          ),
      },
    ]);
  });

  it('stores odd unicode and SQL-looking strings verbatim or refuses them, never a 500', async () => {
    const strings = [
      'nul\u0000byte',
      'lone \ud800 high surrogate',
      'lone \udc00 low surrogate',
      '\u202eevil.exe\u202d rtl override',
      '🤖 agent 👩‍💻 with emoji',
      'zero\u200bwidth\u200djoiner\ufeffbom',
      'combining e\u0301\u0301\u0301',
      'line\nbreak\r\ttab',
      '\u0007bell \u001b[31mansi',
      '❤️'.repeat(200), // 200 characters to the validator (it skips U+FE0F), 400 code points
      '𝕏'.repeat(200), // 200 astral characters, 400 UTF-16 code units
      "Robert'); DROP TABLE agents;--",
      "' OR '1'='1",
      '" OR ""="',
      '1; SELECT pg_sleep(5); --',
      '$1 $2 :id :name',
      "\\'; DELETE FROM credentials; --",
      '%s%s%n %x',
      '${jndi:ldap://example.invalid/a}',
      '{{7*7}}',
      '<script>alert(1)</script>',
    ];
    const failures: string[] = [];
    const created: string[] = [];
    const agentsBefore = await count('agents');
    for (const value of strings) {
      const short = JSON.stringify(value).slice(0, 50);
      for (const field of ['name', 'description', 'owner', 'metadata'] as const) {
        const body =
          field === 'name'
            ? { name: value }
            : field === 'metadata'
              ? { name: 'x', metadata: { [value]: value } }
              : { name: 'x', [field]: value };
        const response = await auth(t.http.post('/api/v1/agents')).send(body);
        if (response.status !== 201)
          answers.push({
            name: `unicode ${field}=${short}`,
            status: response.status,
            oauth: false,
          });
        const label = `POST /agents ${field}=${short}`;
        if (response.status === 201) {
          const id = (response.body as { id: string }).id;
          created.push(id);
          const stored = await readAgent(id);
          const expected = field === 'metadata' ? { [value]: value } : value;
          if (JSON.stringify(stored[field]) !== JSON.stringify(expected)) {
            failures.push(
              `${label} → 201 but stored ${JSON.stringify(stored[field]).slice(0, 80)} (not verbatim)`,
            );
          }
        } else if (response.status >= 500 || response.status < 400) {
          failures.push(`${label} → ${response.status} ${response.text.slice(0, 200)}`);
        } else if (!ERROR_CODES.has((response.body as { code?: string }).code ?? '')) {
          failures.push(`${label} → ${response.status} without a code: ${response.text}`);
        }
      }
      // The same strings as ids, query values and client credentials.
      // (Ids longer than a route parameter may be are the invalid-UUID test's business.)
      if (percentEncode(value).length <= 200) {
        const idLike = await auth(t.http.get(`/api/v1/agents/${percentEncode(value)}`));
        answers.push({ name: 'odd id', status: idLike.status, oauth: false });
        if (idLike.status !== 400 || (idLike.body as { code?: string }).code !== 'INVALID_UUID')
          failures.push(`GET /agents/${short} → ${idLike.status} ${idLike.text.slice(0, 160)}`);
      }
      const query = await auth(t.http.get(`/api/v1/agents?status=${percentEncode(value)}`));
      answers.push({ name: 'odd status', status: query.status, oauth: false });
      if (query.status !== 400) failures.push(`GET /agents?status=${short} → ${query.status}`);
      const token = await t.http
        .post('/api/v1/token')
        .type('form')
        .send(
          `grant_type=client_credentials&client_id=${percentEncode(value)}&client_secret=${percentEncode(value)}`,
        );
      answers.push({ name: 'odd client', status: token.status, oauth: true });
      if (token.status !== 401 || (token.body as { error?: string }).error !== 'invalid_client')
        failures.push(`POST /token client_id=${short} → ${token.status} ${token.text}`);
    }
    const scope = "x';DROP_TABLE_agents;--";
    const scoped = await auth(t.http.post('/api/v1/agents')).send({
      name: 'x',
      allowedScopes: [scope],
    });
    expect(scoped.status).toBe(201);
    created.push((scoped.body as { id: string }).id);
    expect((await readAgent((scoped.body as { id: string }).id)).allowedScopes).toEqual([scope]);

    const deletions = await Promise.all(
      created.map(async (id) => (await auth(t.http.delete(`/api/v1/agents/${id}`))).status),
    );
    expect(deletions.every((status) => status === 204)).toBe(true);
    expect(failures).toEqual([]);
    expect(await count('agents')).toBe(agentsBefore);
  });

  it('refuses an invalid UUID in every path parameter with 400 INVALID_UUID', async () => {
    const bad = [
      'not-a-uuid',
      '123',
      "1' OR '1'='1",
      '%00',
      '%E2%80%AE',
      `${randomUUID()}0`,
      randomUUID().slice(0, -1),
      randomUUID().replace(/-/g, ''),
      '00000000-0000-0000-0000-00000000000g',
      `{${randomUUID()}}`,
      '..%2F..%2Fetc%2Fpasswd',
      'null',
      'undefined',
      '-1',
    ];
    const a = agent.id;
    const c = credential.credentialId;
    const cases: Case[] = [];
    for (const [index, id] of bad.entries()) {
      const everyRoute: [string, string, string][] = [
        ['get', `/api/v1/agents/${id}`, 'agentId'],
        ['patch', `/api/v1/agents/${id}`, 'agentId'],
        ['delete', `/api/v1/agents/${id}`, 'agentId'],
        ['get', `/api/v1/agents/${id}/credentials`, 'agentId'],
        ['post', `/api/v1/agents/${id}/credentials`, 'agentId'],
        ['get', `/api/v1/agents/${id}/credentials/${c}`, 'agentId'],
        ['post', `/api/v1/agents/${id}/credentials/${c}/rotate`, 'agentId'],
        ['delete', `/api/v1/agents/${id}/credentials/${c}`, 'agentId'],
        ['get', `/api/v1/agents/${a}/credentials/${id}`, 'credentialId'],
        ['post', `/api/v1/agents/${a}/credentials/${id}/rotate`, 'credentialId'],
        ['delete', `/api/v1/agents/${a}/credentials/${id}`, 'credentialId'],
      ];
      // Every route with a few ids; every id on one route per parameter.
      const routes = index < 4 ? everyRoute : [everyRoute[0], everyRoute[8]];
      for (const [method, path, param] of routes) {
        cases.push({
          name: `${method.toUpperCase()} with ${param}=${id}`,
          send: () => {
            const request = auth(t.http[method as 'get'](path));
            return method === 'patch' ? request.send({ name: 'x' }) : request;
          },
          status: 400,
          code: ErrorCode.INVALID_UUID,
        });
      }
    }
    cases.push(
      {
        name: 'an id longer than any route parameter may be',
        send: () => auth(t.http.get(`/api/v1/agents/${'a'.repeat(300)}`)),
        status: [400, 404, 414],
        code: [ErrorCode.INVALID_UUID, ErrorCode.ROUTE_NOT_FOUND, ErrorCode.VALIDATION_FAILED],
      },
      {
        name: 'a path with a broken percent-encoding',
        send: () => auth(t.http.get('/api/v1/agents/%ZZ')),
        status: [400, 404],
      },
    );
    await barrage(cases);
  });

  it('refuses duplicate and missing parameters at the OAuth endpoints with invalid_request', async () => {
    const { clientId, clientSecret } = credential;
    const form = (path: string, raw: string, withAuth = false): Test => {
      const request = t.http.post(path).type('form');
      return (withAuth ? request.auth(clientId, clientSecret) : request).send(raw);
    };
    const e = encodeURIComponent;
    await barrage([
      {
        name: 'grant_type twice',
        send: () =>
          form(
            '/api/v1/token',
            `grant_type=client_credentials&grant_type=client_credentials&client_id=${clientId}&client_secret=${e(clientSecret)}`,
          ),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'client_id twice',
        send: () =>
          form(
            '/api/v1/token',
            `grant_type=client_credentials&client_id=${clientId}&client_id=${clientId}&client_secret=${e(clientSecret)}`,
          ),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'client_secret twice',
        send: () =>
          form(
            '/api/v1/token',
            `grant_type=client_credentials&client_id=${clientId}&client_secret=${e(clientSecret)}&client_secret=x`,
          ),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'scope twice',
        send: () =>
          form('/api/v1/token', 'grant_type=client_credentials&scope=read&scope=read', true),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'grant_type as a JSON array',
        send: () =>
          t.http
            .post('/api/v1/token')
            .auth(clientId, clientSecret)
            .send({ grant_type: ['client_credentials'] }),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'grant_type as a JSON number',
        send: () =>
          t.http.post('/api/v1/token').auth(clientId, clientSecret).send({ grant_type: 1 }),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'no grant_type',
        send: () => form('/api/v1/token', '', true),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'an unknown grant_type',
        send: () => form('/api/v1/token', 'grant_type=password&username=a&password=b', true),
        status: 400,
        code: 'unsupported_grant_type',
      },
      {
        name: 'no client authentication',
        send: () => form('/api/v1/token', 'grant_type=client_credentials'),
        status: 401,
        code: 'invalid_client',
      },
      {
        name: 'client_id without client_secret',
        send: () => form('/api/v1/token', `grant_type=client_credentials&client_id=${clientId}`),
        status: [400, 401],
        code: ['invalid_request', 'invalid_client'],
      },
      {
        name: 'a malformed Basic header',
        send: () =>
          t.http
            .post('/api/v1/token')
            .set('authorization', 'Basic !!!not-base64!!!')
            .type('form')
            .send('grant_type=client_credentials'),
        status: 401,
        code: 'invalid_client',
      },
      {
        name: 'a Basic header without a colon',
        send: () =>
          t.http
            .post('/api/v1/token')
            .set('authorization', `Basic ${Buffer.from(clientId).toString('base64')}`)
            .type('form')
            .send('grant_type=client_credentials'),
        status: 401,
        code: 'invalid_client',
      },
      {
        name: 'a Basic header with broken percent-encoding',
        send: () =>
          t.http
            .post('/api/v1/token')
            .set('authorization', `Basic ${Buffer.from(`${clientId}:%E0%A4%A`).toString('base64')}`)
            .type('form')
            .send('grant_type=client_credentials'),
        status: 401,
        code: 'invalid_client',
      },
      {
        name: 'a malformed scope',
        send: () => form('/api/v1/token', 'grant_type=client_credentials&scope=a%22b', true),
        status: 400,
        code: 'invalid_scope',
      },
      {
        name: 'introspection with the token twice',
        send: () => form('/api/v1/token/introspect', 'token=a&token=b', true),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'introspection without a token',
        send: () => form('/api/v1/token/introspect', '', true),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'introspection with an admin bearer and no token',
        send: () => auth(t.http.post('/api/v1/token/introspect')).type('form').send(''),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'revocation with the token twice',
        send: () => form('/api/v1/token/revoke', 'token=a&token=b', true),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'revocation without a token',
        send: () => form('/api/v1/token/revoke', 'token_type_hint=access_token', true),
        status: 400,
        code: 'invalid_request',
      },
      {
        name: 'revocation without client authentication',
        send: () => form('/api/v1/token/revoke', 'token=abc'),
        status: 401,
        code: 'invalid_client',
      },
    ]);
  });

  it('answers wrong methods and unknown routes with 404 or 405 and a code', async () => {
    const a = agent.id;
    const c = credential.credentialId;
    const wrongMethod = (method: string, path: string): Case => ({
      name: `${method.toUpperCase()} ${path}`,
      send: () => {
        const request = auth(t.http[method as 'get'](path));
        return method === 'put' || method === 'post' || method === 'patch'
          ? request.send({ name: 'x' })
          : request;
      },
      status: [404, 405],
      code: [ErrorCode.ROUTE_NOT_FOUND, ErrorCode.METHOD_NOT_ALLOWED, 'invalid_request'],
    });
    const unknown = (path: string, method = 'get'): Case => ({
      name: `unknown route ${method.toUpperCase()} ${path}`,
      send: () => auth(t.http[method as 'get'](path)),
      status: 404,
      code: [ErrorCode.ROUTE_NOT_FOUND, 'invalid_request'],
    });
    await barrage([
      wrongMethod('put', '/api/v1/agents'),
      wrongMethod('delete', '/api/v1/agents'),
      wrongMethod('patch', '/api/v1/agents'),
      wrongMethod('put', `/api/v1/agents/${a}`),
      wrongMethod('post', `/api/v1/agents/${a}`),
      wrongMethod('put', `/api/v1/agents/${a}/credentials`),
      wrongMethod('delete', `/api/v1/agents/${a}/credentials`),
      wrongMethod('patch', `/api/v1/agents/${a}/credentials/${c}`),
      wrongMethod('get', `/api/v1/agents/${a}/credentials/${c}/rotate`),
      wrongMethod('get', '/api/v1/token'),
      wrongMethod('put', '/api/v1/token'),
      wrongMethod('delete', '/api/v1/token'),
      wrongMethod('get', '/api/v1/token/introspect'),
      wrongMethod('post', '/health'),
      wrongMethod('options', '/api/v1/agents'),
      wrongMethod('delete', '/.well-known/jwks.json'),
      unknown('/api/v1/nope'),
      unknown('/api/v2/agents'),
      unknown('/api/v1'),
      unknown('/api/v1/'),
      unknown('/'),
      unknown('/agents'),
      unknown(`/api/v1/agents/${a}/nope`),
      unknown(`/api/v1/agents/${a}/credentials/${c}/nope`),
      unknown('/api/v1/tokens'),
      unknown('/api/v1/token/nope', 'post'),
      unknown('/api/v1/audit'),
      unknown('/.env'),
      unknown('/api/v1/agents%00'),
      unknown('/API/V1/AGENTS'),
    ]);
    // An unknown route is 404 even without a token: the router answers before authentication.
    const anonymous = await t.http.get('/api/v1/nope');
    expect(anonymous.status).toBe(404);
    expect((anonymous.body as { code: string }).code).toBe(ErrorCode.ROUTE_NOT_FOUND);
  });

  it('echoes only a plain X-Request-Id, never a hostile one', async () => {
    const plain = await t.http.get('/api/v1/agents').set('x-request-id', 'abc-123');
    expect(plain.headers['x-request-id']).toBe('abc-123');
    expect((plain.body as { requestId: string }).requestId).toBe('abc-123');
    const longest = 'r'.repeat(128);
    expect((await t.http.get('/health').set('x-request-id', longest)).headers['x-request-id']).toBe(
      longest,
    );

    const hostile = [
      '<script>alert(1)</script>',
      'abc 123',
      'r'.repeat(129),
      "'; DROP TABLE agents;--",
      '../../etc/passwd',
      '${jndi:ldap://example.invalid/a}',
      '%0d%0aSet-Cookie: a=b',
      'a\tb',
      'é-latin1',
      '',
      'abc,def',
      '"quoted"',
    ];
    const failures: string[] = [];
    for (const value of hostile) {
      for (const path of ['/api/v1/agents', '/health', '/api/v1/nope']) {
        const response = await t.http.get(path).set('x-request-id', value);
        const header: string = response.headers['x-request-id'];
        const bodyId = (response.body as { requestId?: string }).requestId;
        if (value !== '' && header.includes(value))
          failures.push(`${path} echoed ${JSON.stringify(value)}`);
        if (!UUID.test(header))
          failures.push(`${path} with ${JSON.stringify(value)} got id ${JSON.stringify(header)}`);
        if (bodyId !== undefined && bodyId !== header)
          failures.push(`${path} body requestId ${bodyId} differs from header ${header}`);
        if (path !== '/health')
          answers.push({ name: 'x-request-id', status: response.status, oauth: false });
      }
    }
    // A repeated header is not one plain id either.
    const repeated = await t.http
      .get('/api/v1/agents')
      .set('x-request-id', ['abc-1', 'abc-2'] as unknown as string);
    expect(repeated.headers['x-request-id']).toMatch(UUID);
    expect(failures).toEqual([]);
  });

  it('is still healthy after the barrage, every answer was a 4xx, and no data changed', async () => {
    expect(answers.length).toBeGreaterThan(300);
    const fixture = withoutUpdatedAt(await readAgent(agent.id));
    const token = await t.http
      .post('/api/v1/token')
      .auth(credential.clientId, credential.clientSecret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    // One comparison, so a failure shows every way the barrage left a mark.
    expect({
      answersNot4xx: answers
        .filter((answer) => answer.status < 400 || answer.status >= 500)
        .map((answer) => `${answer.name} → ${answer.status}`),
      health: (await t.http.get('/health')).status,
      ready: (await t.http.get('/health/ready')).status,
      agents: await count('agents'),
      credentials: await count('credentials'),
      fixture,
      fixtureCanStillGetATokenWithItsSecret: token.status,
    }).toEqual({
      answersNot4xx: [],
      health: 200,
      ready: 200,
      agents: agentCount,
      credentials: credentialCount,
      fixture: snapshot,
      fixtureCanStillGetATokenWithItsSecret: 200,
    });
  });
});
