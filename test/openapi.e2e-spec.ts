import { ModulesContainer } from '@nestjs/core';
import { PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { IS_PUBLIC } from '@agentidp/auth';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import request from 'supertest';
import { TEST_ENV, startTestApp, type TestApp } from './support/test-app';

/**
 * The OpenAPI document is generated from decorators; this suite holds it to what the app really
 * serves. Routes are enumerated from Fastify's router (not from the document or the decorators), so
 * a route added without documentation fails here.
 */

interface SchemaRef {
  $ref?: string;
  type?: string;
  properties?: Record<string, unknown>;
  [key: string]: unknown;
}
interface MediaType {
  schema?: SchemaRef;
}
interface Response {
  description?: unknown;
  content?: Record<string, MediaType>;
}
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: SchemaRef;
}
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, MediaType> };
  responses: Record<string, Response>;
  security?: Record<string, string[]>[];
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  servers?: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, SchemaRef>;
    securitySchemes: Record<string, Record<string, unknown>>;
  };
}

interface Route {
  method: string;
  /** Fastify's pattern, e.g. `/api/v1/agents/:agentId`. */
  url: string;
  /** The OpenAPI path, e.g. `/api/v1/agents/{agentId}`. */
  path: string;
}

/** Served by the app but deliberately not API: the document's own routes and the scrape endpoint. */
const NOT_API = /^\/(api\/docs(-json)?(\/.*)?|metrics)$/;
/** Routes whose errors are RFC 6749 bodies. */
const OAUTH = /^\/api\/v1\/token(\/|$)/;
/** Routes that may list bearer as one way in although `@Public()` (they check the token themselves). */
const BEARER_ALTERNATIVE = new Set(['POST /api/v1/token/introspect']);
const ERROR_BODY = '#/components/schemas/ErrorBody';
const OAUTH_ERROR_BODY = '#/components/schemas/OAuthErrorBody';
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Every route Fastify registered, from `printRoutes({ commonPrefix: false })`: a tree whose lines are
 * `<indent>├── <segment> (METHOD, ...)`, a child's segment continuing its parent's path.
 */
function parseRoutes(tree: string): Route[] {
  const routes: Route[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!match) continue;
    const depth = match[1].length / 4;
    stack.length = depth;
    const url = (depth > 0 ? stack[depth - 1] : '') + match[2];
    stack.push(url);
    for (const method of match[3]?.split(', ') ?? []) {
      routes.push({ method, url, path: url.replace(/:(\w+)/g, '{$1}') });
    }
  }
  return routes;
}

function key(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

function collectRefs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) collectRefs(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const [name, child] of Object.entries(value)) {
      if (name === '$ref' && typeof child === 'string') found.push(child);
      else collectRefs(child, found);
    }
  }
  return found;
}

/** What the document is checked against: the handler behind an operation (`<Controller>_<method>`). */
interface Handler {
  paramTypes: RouteParamtypes[];
  isPublic: boolean;
}

function findHandlers(t: TestApp): Map<string, Handler> {
  const handlers = new Map<string, Handler>();
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype;
      if (!controller || Reflect.getMetadata(PATH_METADATA, controller) === undefined) continue;
      const prototype = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const method = prototype[name];
        if (name === 'constructor' || typeof method !== 'function') continue;
        if (Reflect.getMetadata(PATH_METADATA, method) === undefined) continue;
        // Keys look like `<paramtype>:<index>` (custom decorators add a suffix, and are skipped).
        const args = Object.keys(
          (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as object,
        );
        handlers.set(`${controller.name.replace(/Controller$/, '')}_${name}`, {
          paramTypes: args.map((arg) => Number(arg.split(':')[0]) as RouteParamtypes),
          isPublic:
            Reflect.getMetadata(IS_PUBLIC, method) === true ||
            Reflect.getMetadata(IS_PUBLIC, controller) === true,
        });
      }
    }
  }
  return handlers;
}

describe('OpenAPI document and Swagger UI', () => {
  let t: TestApp;
  let doc: Document;
  let docText: string;
  let routes: Route[];
  let apiRoutes: Route[];
  let handlers: Map<string, Handler>;

  const operation = (route: Route): Operation | undefined =>
    doc.paths[route.path]?.[route.method.toLowerCase()];

  beforeAll(async () => {
    t = await startTestApp();
    // Secrets exist in the process before the document is built.
    await t.adminToken();
    const response = await t.http.get('/api/docs-json');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    docText = response.text;
    doc = JSON.parse(docText) as Document;
    routes = parseRoutes(t.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false }));
    apiRoutes = routes.filter(
      (route) => !['HEAD', 'OPTIONS'].includes(route.method) && !NOT_API.test(route.url),
    );
    handlers = findHandlers(t);
  });

  afterAll(async () => {
    await t?.close();
  });

  describe('route enumeration', () => {
    it('finds every route Fastify serves, and only those', () => {
      const fastify = t.app.getHttpAdapter().getInstance();
      for (const route of routes) {
        expect(fastify.hasRoute({ method: route.method, url: route.url })).toBe(true);
      }
      const keys = apiRoutes.map((route) => key(route.method, route.path));
      // A sample the README lists, so a parser that finds nothing cannot pass.
      expect(keys).toEqual(
        expect.arrayContaining([
          'POST /api/v1/token',
          'GET /.well-known/jwks.json',
          'GET /health/ready',
          'PATCH /api/v1/agents/{agentId}',
          'POST /api/v1/agents/{agentId}/credentials/{credentialId}/rotate',
          'GET /api/v1/audit-events/verify',
        ]),
      );
      expect(new Set(keys).size).toBe(keys.length);
    });

    it('parses nested segments and method lists', () => {
      const tree = [
        '├── /a (GET, HEAD)',
        '│   └── /:id (GET, HEAD, DELETE)',
        '│       └── /x (POST)',
        '└── /b',
        '    └── -json (GET)',
      ].join('\n');
      expect(parseRoutes(tree).map((route) => key(route.method, route.path))).toEqual([
        'GET /a',
        'HEAD /a',
        'GET /a/{id}',
        'HEAD /a/{id}',
        'DELETE /a/{id}',
        'POST /a/{id}/x',
        'GET /b-json',
      ]);
    });
  });

  describe('document', () => {
    it('is OpenAPI 3 with the title, version, server and security schemes', () => {
      const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
        version: string;
      };
      expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
      expect(doc.info.title).toBe('AgentIdP');
      expect(doc.info.version).toBe(pkg.version);
      expect(doc.servers?.map((server) => server.url)).toEqual([t.config.http.publicUrl]);
      expect(doc.components.securitySchemes.bearer).toMatchObject({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
      });
      expect(doc.components.securitySchemes.client_secret_basic).toMatchObject({
        type: 'http',
        scheme: 'basic',
      });
    });

    it('is structurally valid: refs resolve, responses are described, path params declared', () => {
      const problems: string[] = [];
      for (const ref of collectRefs(doc)) {
        const name = /^#\/components\/schemas\/([^/]+)$/.exec(ref)?.[1];
        if (!name || !doc.components.schemas[name]) problems.push(`unresolved $ref ${ref}`);
      }
      const operationIds = new Set<string>();
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
          const where = key(method, path);
          if (!HTTP_METHODS.includes(method)) problems.push(`${where}: not an HTTP method`);
          if (!op.operationId || operationIds.has(op.operationId))
            problems.push(`${where}: operationId missing or duplicated`);
          operationIds.add(op.operationId ?? '');
          if (!op.summary) problems.push(`${where}: no summary`);
          if (!op.tags?.length) problems.push(`${where}: no tag`);
          if (!Object.keys(op.responses ?? {}).length) problems.push(`${where}: no responses`);
          for (const [status, response] of Object.entries(op.responses ?? {})) {
            if (typeof response.description !== 'string')
              problems.push(`${where} ${status}: a response needs a description`);
          }
          const declared = (op.parameters ?? []).filter((p) => p.in === 'path');
          const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
          for (const name of templated) {
            const param = declared.find((p) => p.name === name);
            if (!param) problems.push(`${where}: path parameter ${name} not declared`);
            else if (param.required !== true)
              problems.push(`${where}: path parameter ${name} must be required`);
            else if (param.schema?.format !== 'uuid')
              problems.push(`${where}: path parameter ${name} must be documented as a uuid`);
          }
          for (const param of declared) {
            if (!templated.includes(param.name))
              problems.push(`${where}: declares ${param.name}, not in the path`);
          }
          for (const requirement of op.security ?? []) {
            for (const scheme of Object.keys(requirement)) {
              if (!doc.components.securitySchemes[scheme])
                problems.push(`${where}: unknown security scheme ${scheme}`);
            }
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('documents exactly the routes the app serves (nothing missing, nothing stale)', () => {
      const served = new Set(apiRoutes.map((route) => key(route.method, route.path)));
      const documented = new Set(
        Object.entries(doc.paths).flatMap(([path, item]) =>
          Object.keys(item).map((method) => key(method, path)),
        ),
      );
      expect([...served].filter((k) => !documented.has(k))).toEqual([]);
      expect([...documented].filter((k) => !served.has(k))).toEqual([]);
      // Not API: the docs themselves and the Prometheus endpoint.
      expect(Object.keys(doc.paths).filter((path) => NOT_API.test(path))).toEqual([]);
    });

    it('gives every operation a success schema and its error responses', () => {
      const problems: string[] = [];
      for (const route of apiRoutes) {
        const op = operation(route);
        const where = key(route.method, route.path);
        if (!op) continue; // Reported by the previous test.
        const handler = handlers.get(op.operationId ?? '');
        if (!handler) {
          problems.push(`${where}: no handler for operationId ${op.operationId}`);
          continue;
        }
        const oauth = OAUTH.test(route.path);
        const errorRef = oauth ? OAUTH_ERROR_BODY : ERROR_BODY;
        const statuses = Object.keys(op.responses);

        const successes = statuses.filter((status) => /^2\d\d$/.test(status));
        if (successes.length !== 1) problems.push(`${where}: ${successes.length} 2xx responses`);
        for (const status of successes) {
          const content = op.responses[status].content;
          if (status === '204') {
            if (content) problems.push(`${where}: 204 with a body`);
          } else if (!content?.['application/json']?.schema) {
            problems.push(`${where}: ${status} without an application/json schema`);
          }
        }

        for (const status of statuses.filter((s) => /^[45]\d\d$/.test(s))) {
          const schema = op.responses[status].content?.['application/json']?.schema;
          const expected =
            where === 'GET /health/ready' && status === '503'
              ? '#/components/schemas/HealthReady'
              : errorRef;
          if (schema?.$ref !== expected)
            problems.push(`${where}: ${status} must reference ${expected}`);
        }

        const takesBody = handler.paramTypes.includes(RouteParamtypes.BODY);
        const hasParams = handler.paramTypes.includes(RouteParamtypes.PARAM);
        const hasQuery = handler.paramTypes.includes(RouteParamtypes.QUERY);
        const writes = ['POST', 'PUT', 'PATCH'].includes(route.method);
        const needed = ['500'];
        if (!handler.isPublic) needed.push('401', '429', '503');
        if (oauth) needed.push('400', '401', '413', '415', '429', '503');
        if (takesBody || hasParams || hasQuery) needed.push('400');
        if (hasParams) needed.push('404');
        if (writes) needed.push('413', '415');
        for (const status of needed) {
          if (!op.responses[status]) problems.push(`${where}: ${status} not documented`);
        }

        if (hasQuery) {
          const query = (op.parameters ?? []).filter((p) => p.in === 'query');
          if (!query.length) problems.push(`${where}: reads a query but documents no parameter`);
          for (const param of query) {
            if (!param.schema) problems.push(`${where}: query parameter ${param.name} untyped`);
          }
        }

        if (takesBody) {
          const content = op.requestBody?.content ?? {};
          const types = oauth
            ? ['application/x-www-form-urlencoded', 'application/json']
            : ['application/json'];
          if (Object.keys(content).sort().join() !== [...types].sort().join())
            problems.push(`${where}: request body should be ${types.join(' and ')}`);
          for (const type of types) {
            const ref = content[type]?.schema?.$ref;
            const schema = ref ? doc.components.schemas[ref.split('/').pop() ?? ''] : undefined;
            if (!schema?.properties || !Object.keys(schema.properties).length)
              problems.push(`${where}: ${type} body without a schema of named fields`);
            if (oauth && !(schema?.properties?.client_id && schema?.properties?.client_secret))
              problems.push(`${where}: body must document client_id and client_secret`);
          }
        } else if (op.requestBody) {
          problems.push(`${where}: documents a body its handler never reads`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('documents security as the guard applies it', () => {
      const problems: string[] = [];
      for (const route of apiRoutes) {
        const op = operation(route);
        const handler = handlers.get(op?.operationId ?? '');
        if (!op || !handler) continue;
        const where = key(route.method, route.path);
        const security = op.security ?? [];
        if (!handler.isPublic) {
          if (JSON.stringify(security) !== JSON.stringify([{ bearer: [] }]))
            problems.push(`${where}: management route must require exactly bearer`);
        } else if (OAUTH.test(route.path)) {
          if (!security.some((r) => JSON.stringify(r) === '{"client_secret_basic":[]}'))
            problems.push(`${where}: OAuth route must offer client_secret_basic`);
          if (security.some((r) => 'bearer' in r) && !BEARER_ALTERNATIVE.has(where))
            problems.push(`${where}: OAuth route must not offer bearer`);
        } else if (security.length) {
          problems.push(`${where}: public route must carry no security`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('matches what an anonymous caller gets: 401 exactly where bearer is required', async () => {
      const id = '00000000-0000-4000-8000-000000000000';
      const mismatches: string[] = [];
      for (const route of apiRoutes) {
        const op = operation(route);
        if (!op) continue;
        const url = route.url.replace(/:\w+/g, id);
        const method = route.method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete';
        let call = t.http[method](url);
        if (['POST', 'PATCH'].includes(route.method)) {
          call = OAUTH.test(route.path) ? call.type('form').send({}) : call.send({});
        }
        const response = await call;
        const refused =
          response.status === 401 &&
          (response.body as { code?: string }).code === 'UNAUTHORIZED' &&
          /^Bearer/.test(String(response.headers['www-authenticate']));
        const documented = (op.security ?? []).some(
          (r) => JSON.stringify(r) === '{"bearer":[]}' && op.security?.length === 1,
        );
        if (refused !== documented) {
          mismatches.push(`${key(route.method, route.path)}: ${response.status}`);
        }
      }
      expect(mismatches).toEqual([]);
    });

    it('contains nothing secret-looking', () => {
      const secrets = [
        t.admin.clientSecret,
        TEST_ENV.SIGNING_KEYS_ENCRYPTION_KEY,
        ...Object.values(t.database.env).filter((value) => value.includes('://')),
      ];
      for (const secret of secrets) expect(docText).not.toContain(secret);
      expect(docText).not.toMatch(/-----BEGIN [A-Z ]*KEY-----/);
      expect(docText).not.toMatch(/eyJ[\w-]{8,}\.[\w-]{8,}/); // a JWT
      expect(docText).not.toMatch(/aidp_[\w-]{20,}/); // a client secret
      expect(docText).not.toMatch(/\b(postgres(ql)?|redis|https?):\/\/[^/"\s]*:[^@"\s]*@/i); // userinfo
      expect(docText).not.toMatch(/"(d|p|q|dp|dq|qi)"\s*:/); // private JWK members
    });
  });

  describe('Swagger UI', () => {
    const uiCsp = (header: unknown) => {
      expect(String(header)).toContain("script-src 'self'");
      expect(String(header)).not.toContain("default-src 'none'");
      expect(String(header)).not.toContain("'unsafe-eval'");
      expect(String(header)).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    };

    it.each(['/api/docs', '/api/docs/'])('loads from %s with every asset', async (page) => {
      const html = await t.http.get(page);
      expect(html.status).toBe(200);
      expect(html.headers['content-type']).toMatch(/^text\/html/);
      expect(html.headers['x-request-id']).toBeTruthy();
      uiCsp(html.headers['content-security-policy']);
      // A page gets the document headers the API's JSON answers leave out.
      expect(html.headers).toMatchObject({
        'cross-origin-opener-policy': 'same-origin',
        'x-frame-options': 'DENY',
        'x-content-type-options': 'nosniff',
      });
      expect(html.text).toContain('<div id="swagger-ui">');
      // The CSP allows no inline script: every <script> must load a file.
      expect(html.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);

      const links = [...html.text.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]);
      expect(links.length).toBeGreaterThanOrEqual(3);
      const pageUrl = new URL(page, t.baseUrl);
      const bodies = new Map<string, string>();
      for (const link of links) {
        const url = new URL(link, pageUrl);
        expect(url.origin).toBe(pageUrl.origin);
        const asset = await t.http.get(url.pathname).buffer(true);
        expect({ link, status: asset.status }).toEqual({ link, status: 200 });
        const type = String(asset.headers['content-type']);
        if (url.pathname.endsWith('.js')) expect(type).toMatch(/^application\/javascript/);
        if (url.pathname.endsWith('.css')) expect(type).toMatch(/^text\/css/);
        if (url.pathname.endsWith('.png')) expect(type).toBe('image/png');
        uiCsp(asset.headers['content-security-policy']);
        expect(Number(asset.headers['content-length'])).toBeGreaterThan(0);
        bodies.set(url.pathname, asset.text ?? '');
      }

      expect(bodies.get('/api/docs/swagger-ui-bundle.js')).toContain('SwaggerUIBundle');
      const init = bodies.get('/api/docs/swagger-ui-init.js') ?? '';
      expect(() => new Script(init)).not.toThrow();
      // The init script points the UI at the document, relative to its own URL.
      const target = /new URL\('([^']+)', document\.currentScript\.src\)/.exec(init)?.[1];
      const documentUrl = new URL(target ?? '?', new URL('/api/docs/swagger-ui-init.js', pageUrl));
      expect(documentUrl.pathname).toBe('/api/docs-json');
    });

    it('relaxes the CSP for the UI only', async () => {
      for (const path of ['/api/docs-json', '/health', '/api/docs/unknown.js', '/api/v1/agents']) {
        const response = await t.http.get(path);
        expect(String(response.headers['content-security-policy'])).toContain("default-src 'none'");
        expect(response.headers).not.toHaveProperty('cross-origin-opener-policy');
      }
      const missing = await t.http.get('/api/docs/unknown.js');
      expect(missing.status).toBe(404);
      expect((missing.body as { code?: string }).code).toBe('ROUTE_NOT_FOUND');
    });

    it('needs no token and is not rate limited, while the API is', async () => {
      await t.restart({ RATE_LIMIT_API_PER_MINUTE: '1' });
      for (let i = 0; i < 4; i += 1) {
        for (const path of ['/api/docs-json', '/api/docs', '/api/docs/swagger-ui-init.js']) {
          // An odd content type on a GET is no reason to refuse it.
          const response = await request(t.baseUrl).get(path).set('content-type', 'text/plain');
          expect({ path, status: response.status }).toEqual({ path, status: 200 });
        }
      }
      const token = await t.adminToken();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const response = await t.http.get('/api/v1/agents').set('authorization', `Bearer ${token}`);
        statuses.push(response.status);
      }
      expect(statuses).toContain(429);
    });
  });
});
