import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type AppConfig } from '@agentidp/config';
import { Metrics } from '@agentidp/metrics';
import { TokenEndpoint } from '@agentidp/token';
import {
  AllExceptionsFilter,
  createValidationPipe,
  DomainException,
  ErrorCode,
  generateRequestId,
  registerBodyParsers,
  requestLogMessage,
} from '@agentidp/common';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { AppModule } from './app.module';
import { createLogger } from './logger';
import { setupOpenApi } from './openapi';
import { securityHeaders } from './security-headers';

/** Paths served outside `/api/v1`. */
const UNPREFIXED = [
  'health',
  'health/ready',
  '.well-known/jwks.json',
  '.well-known/oauth-authorization-server',
  'metrics',
];

/**
 * Builds the application exactly as production runs it; tests boot through here too, so what they
 * exercise is what ships.
 */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    trustProxy: config.http.trustProxy,
    genReqId: generateRequestId,
    requestIdHeader: false,
    return503OnClosing: true,
    // No Nest middleware is used: without @fastify/middie no request runs its hook. Adding
    // middleware later fails at start-up (`use` is middie's), not silently.
    skipMiddie: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // URLs the router cannot even parse still get the project's error body and a request id.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      void reply
        .status(400)
        .header('x-request-id', request.id)
        .header('cache-control', 'no-store')
        .send({
          statusCode: 400,
          code: ErrorCode.INVALID_UUID,
          message: 'The path is malformed; ids in the path must be UUIDs',
          requestId: String(request.id),
        });
      void error;
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: createLogger(config),
    abortOnError: false,
    bodyParser: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  // Before any route is declared (the docs' included): each route gets its recorder when it is.
  observeResponses(fastify, app.get(Metrics), config);
  app.setGlobalPrefix('api/v1', { exclude: UNPREFIXED });
  setupOpenApi(app, config);
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());
  if (config.http.corsOrigins.length) {
    app.enableCors({
      origin: config.http.corsOrigins,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    });
  }
  // The token endpoint, the hot path, skips Nest's per-request pipeline (see TokenEndpoint).
  app.get(TokenEndpoint).attach(fastify);
  registerBodyParsers(fastify, config.http.bodyLimitBytes);
  const headers = securityHeaders();
  // Headers set here stay on every answer, errors included; no per-response hook is needed.
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.headers(headers).header('x-request-id', request.id);
    try {
      assertContentType(request.method, request.url, request.headers);
      done();
    } catch (error) {
      done(error as Error);
    }
  });
  return app;
}

/**
 * Latency by route, and an access log at debug level (the route pattern, never the raw URL or a
 * body). Each route's `onResponse` hook holds its own pattern and recorder: a global hook would
 * have to build `request.routeOptions` on every response to learn them. Requests no route matched
 * are recorded by the one global hook, which does nothing for the others.
 */
function observeResponses(fastify: FastifyInstance, metrics: Metrics, config: AppConfig): void {
  const accessLog = new Logger('HTTP');
  // Checked once: the hot path should not build log lines nobody will see.
  const debugEnabled = config.log.level === 'debug' || config.log.level === 'verbose';
  type Recorder = (request: FastifyRequest, reply: FastifyReply, done: () => void) => void;
  const recorder = (route: string): Recorder => {
    const record = metrics.httpRoute(route);
    return (request, reply, done) => {
      record(request.method, reply.statusCode, reply.elapsedTime / 1000);
      if (debugEnabled) {
        accessLog.debug(
          requestLogMessage(
            `${request.method} ${route} ${reply.statusCode} ${reply.elapsedTime.toFixed(1)}ms`,
            String(request.id),
          ),
        );
      }
      done();
    };
  };
  fastify.addHook('onRoute', (route) => {
    const own = route.onResponse;
    route.onResponse = [...(own ? [own].flat() : []), recorder(route.url)];
  });
  const unmatched = recorder('unmatched');
  fastify.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unmatched(request, reply, done);
    else done();
  });
}

const OAUTH_ROUTE = /^\/api\/v1\/token(\/|\?|$)/;

/**
 * Bodies must be JSON (or, on the OAuth endpoints, form-encoded as RFC 6749 says). Anything else is
 * refused with 415 before parsing, so an unexpected type can never reach a handler as a raw value.
 */
function assertContentType(method: string, url: string, headers: IncomingHttpHeaders): void {
  if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') return;
  const hasBody =
    headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0');
  if (!hasBody) return;
  const type = (headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const allowed = OAUTH_ROUTE.test(url)
    ? type === 'application/x-www-form-urlencoded' || type === 'application/json'
    : type === 'application/json';
  if (!allowed) {
    throw new DomainException(
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
      OAUTH_ROUTE.test(url)
        ? 'Send application/x-www-form-urlencoded (or application/json)'
        : 'Send application/json',
    );
  }
}
