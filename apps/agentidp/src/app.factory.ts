import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type AppConfig } from '@agentidp/config';
import { AllExceptionsFilter, createValidationPipe, generateRequestId } from '@agentidp/common';
import { AppModule } from './app.module';
import { createLogger } from './logger';

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
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, {
    logger: createLogger(config),
    abortOnError: false,
  });
  app.setGlobalPrefix('api/v1', { exclude: UNPREFIXED });
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(createValidationPipe());
  app.useSecurityHeaders({
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  if (config.http.corsOrigins.length) {
    app.enableCors({
      origin: config.http.corsOrigins,
      methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    });
  }
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  return app;
}
