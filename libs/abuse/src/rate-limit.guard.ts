import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RateLimiter } from './rate-limiter';

/**
 * Applies {@link RateLimiter} to every HTTP route. Runs before authentication, so refused requests
 * cost no secret check.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(private readonly limiter: RateLimiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    await this.limiter.check(context.switchToHttp().getRequest<FastifyRequest>());
    return true;
  }
}
