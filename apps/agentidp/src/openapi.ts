import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { AppConfig } from '@agentidp/config';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DOCUMENT_HELMET_OPTIONS, securityHeaders } from './security-headers';

/** Swagger UI and the OpenAPI document, both outside `/api/v1`. */
export const DOCS_PATH = '/api/docs';
export const DOCS_JSON_PATH = '/api/docs-json';

/** Routes left out of the document even if their controller is not marked `@ApiExcludeController`. */
export const UNDOCUMENTED_PATHS = ['/metrics'];

/**
 * The application CSP (`default-src 'none'`) suits an API but stops Swagger UI from running. Its
 * pages get a policy that still allows nothing from other origins and no inline script (the page
 * loads its scripts from files); Swagger UI sets inline styles, hence `style-src 'unsafe-inline'`.
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The UI's pages and files: a document's headers, in place of the API's set in `onRequest`. */
const DOCS_HEADERS = Object.freeze({
  ...securityHeaders(DOCUMENT_HELMET_OPTIONS),
  'content-security-policy': DOCS_CSP,
});

/** Files of `swagger-ui-dist` the page loads, served from memory once read. */
const UI_ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

/**
 * Starts Swagger UI. A file, not inline: the page's CSP allows no inline script. The document URL
 * is resolved against this script's own (`/api/docs/swagger-ui-init.js`), so the UI also works
 * when a proxy serves the API under a path prefix.
 */
const INIT_SCRIPT = `(function () {
  var url = new URL('../docs-json', document.currentScript.src).href;
  window.addEventListener('load', function () {
    window.ui = SwaggerUIBundle({
      url: url,
      dom_id: '#swagger-ui',
      deepLinking: true,
      validatorUrl: null,
      presets: [SwaggerUIBundle.presets.apis],
      layout: 'BaseLayout',
    });
  });
})();
`;

/**
 * The OpenAPI 3 document at `GET /api/docs-json` and Swagger UI at `GET /api/docs`, generated from
 * the controllers' decorators. Call right after `setGlobalPrefix`, before the app is initialised;
 * the document is built on its first request.
 *
 * The UI is served here rather than by SwaggerModule, whose UI needs `@fastify/static`: that
 * package's `content-disposition@3` dependency is ESM-only, which Jest cannot load on Node 20.
 */
export function setupOpenApi(app: NestFastifyApplication, config: AppConfig): void {
  const buildDocument = (): OpenAPIObject => {
    const builder = new DocumentBuilder()
      .setTitle('AgentIdP')
      .setDescription(
        'OAuth 2.0 identity provider for AI agents. Management routes need a bearer access token ' +
          'issued by this server (`POST /api/v1/token`). Errors come as `ErrorBody` with a stable ' +
          '`code`, except on the OAuth endpoints, which answer RFC 6749 `OAuthErrorBody`.',
      )
      .setVersion(packageVersion())
      .setLicense('Apache-2.0', 'https://www.apache.org/licenses/LICENSE-2.0')
      .addServer(config.http.publicUrl)
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token from POST /api/v1/token (client_credentials)',
        },
        'bearer',
      )
      .addBasicAuth(
        {
          type: 'http',
          scheme: 'basic',
          description:
            'OAuth client authentication (RFC 6749 §2.3.1): client_id and client_secret, each form-urlencoded',
        },
        'client_secret_basic',
      );
    const document = SwaggerModule.createDocument(app, builder.build(), {
      operationIdFactory: (controllerKey, methodKey) =>
        `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
    });
    // Operator endpoints, not API: the Prometheus scrape (cluster network only).
    for (const path of UNDOCUMENTED_PATHS) delete document.paths[path];
    return document;
  };

  SwaggerModule.setup(DOCS_PATH, app, buildDocument, {
    jsonDocumentUrl: DOCS_JSON_PATH,
    useGlobalPrefix: false,
    ui: false,
    raw: ['json'],
  });
  serveSwaggerUi(app.getHttpAdapter().getInstance());
}

function serveSwaggerUi(fastify: FastifyInstance): void {
  const assetsDir = swaggerUiDistDir();
  const cache = new Map<string, Buffer>();

  // One route for `/api/docs` and `/api/docs/` (the router ignores trailing slashes); the page's
  // relative links must resolve under `/api/docs/` from both.
  fastify.get(DOCS_PATH, async (request, reply) => {
    const base = request.url.split('?')[0].endsWith('/') ? './' : './docs/';
    return uiReply(reply, 'text/html; charset=utf-8', 'no-cache').send(
      `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>AgentIdP API</title>
  <link rel="stylesheet" href="${base}swagger-ui.css">
  <link rel="icon" type="image/png" href="${base}favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="${base}favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${base}swagger-ui-bundle.js"></script>
  <script src="${base}swagger-ui-init.js"></script>
</body>
</html>
`,
    );
  });
  fastify.get(`${DOCS_PATH}/swagger-ui-init.js`, async (_request, reply) =>
    uiReply(reply, 'application/javascript; charset=utf-8', 'no-cache').send(INIT_SCRIPT),
  );
  for (const [file, type] of Object.entries(UI_ASSETS)) {
    fastify.get(`${DOCS_PATH}/${file}`, async (_request, reply) => {
      let content = cache.get(file);
      if (!content) {
        content = readFileSync(join(assetsDir, file));
        cache.set(file, content);
      }
      return uiReply(reply, type, 'public, max-age=3600').send(content);
    });
  }
}

/**
 * The UI's own answers: their type, caching and a document's headers with the UI's CSP in place of
 * the API's (set for every request in `onRequest`). The JSON document and unknown paths keep the
 * API's.
 */
function uiReply(reply: FastifyReply, type: string, cacheControl: string): FastifyReply {
  return reply.type(type).headers(DOCS_HEADERS).header('cache-control', cacheControl);
}

/** `swagger-ui-dist`, resolved from `@nestjs/swagger`, whose dependency it is. */
function swaggerUiDistDir(): string {
  return dirname(
    require.resolve('swagger-ui-dist/package.json', {
      paths: [dirname(require.resolve('@nestjs/swagger'))],
    }),
  );
}

/** The version in package.json, found from this file in the sources and in `dist/` alike. */
function packageVersion(): string {
  let directory = __dirname;
  for (let depth = 0; depth < 6; depth += 1) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (manifest.name === 'agentidp' && typeof manifest.version === 'string') {
        return manifest.version;
      }
    } catch {
      // No package.json at this level: look further up.
    }
    const parent = dirname(directory);
    if (parent === directory) break;
    directory = parent;
  }
  return process.env.npm_package_version ?? '0.0.0';
}
