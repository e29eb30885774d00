import { Injectable } from '@nestjs/common';
import { RateLimiter } from '@agentidp/abuse';
import {
  AllExceptionsFilter,
  OAuthException,
  requestContext,
  type RequestContext,
} from '@agentidp/common';
import { Metrics } from '@agentidp/metrics';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readParams } from './client-authentication';
import { TokenService, type TokenResponse } from './token.service';

export const TOKEN_PATH = '/api/v1/token';
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/**
 * `POST /api/v1/token`, the hot path. {@link TokenController} declares the route (and its OpenAPI
 * contract) and delegates to {@link grant}; {@link attach} then has Fastify call {@link serve}
 * directly for that route, doing what Nest's per-request pipeline would do for it (the rate limit
 * of the global guard, the error rendering of the global filter; the route is public and its body
 * is not validated by a DTO) without the guards, pipes and promise layers around every request.
 */
@Injectable()
export class TokenEndpoint {
  private readonly errors = new AllExceptionsFilter();

  constructor(
    private readonly tokens: TokenService,
    private readonly rateLimiter: RateLimiter,
    private readonly metrics: Metrics,
  ) {}

  /** The grant itself, with the response headers RFC 6749 §5.1 requires and the outcome metric. */
  async grant(
    authorization: string | undefined,
    body: unknown,
    reply: FastifyReply,
    context: RequestContext,
  ): Promise<TokenResponse> {
    void reply.headers(NO_STORE);
    try {
      const response = await this.tokens.grant(authorization, readParams(body), context);
      this.metrics.tokenRequests.inc({ outcome: 'issued' });
      return response;
    } catch (error) {
      this.metrics.tokenRequests.inc({
        outcome: error instanceof OAuthException ? error.error : 'server_error',
      });
      throw error;
    }
  }

  /**
   * Fastify's handler for the route: rate limit, grant, 200, or the filter's error answer. Callback
   * style (it returns nothing and sends later): an async handler's promise would make Fastify wait
   * on the reply as a thenable, with stream listeners on every response.
   */
  readonly serve = (request: FastifyRequest, reply: FastifyReply): void => {
    // Should the error filter itself fail, Fastify's own error handling answers.
    this.answer(request, reply).catch((error: unknown) => void reply.send(error));
  };

  private async answer(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      await this.rateLimiter.check(request);
      const response = await this.grant(
        request.headers.authorization,
        request.body,
        reply,
        requestContext(request),
      );
      void reply.code(200).send(response);
    } catch (error) {
      this.errors.respond(error, request, reply);
    }
  }

  /** Call before the application initialises (its routes are registered then). */
  attach(fastify: FastifyInstance): void {
    fastify.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (route.url === TOKEN_PATH && methods.length === 1 && methods[0] === 'POST') {
        route.handler = this.serve;
      }
    });
  }
}
