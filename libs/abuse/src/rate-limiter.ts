import { Injectable } from '@nestjs/common';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import { DomainException, ErrorCode, requestContext } from '@agentidp/common';
import { AppConfig } from '@agentidp/config';
import type { FastifyRequest } from 'fastify';
import { AbuseStore } from './abuse-store';

const TOKEN_ROUTES = /^\/api\/v1\/token(\/|\?|$)/;
const WINDOW_SECONDS = 60;

/**
 * Per-IP limits on `/api/v1/token*` (RATE_LIMIT_TOKEN_PER_MINUTE) and on the management API
 * (RATE_LIMIT_API_PER_MINUTE); 0 turns one off. Fixed one-minute windows, shared by every replica.
 */
@Injectable()
export class RateLimiter {
  constructor(
    private readonly store: AbuseStore,
    private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  /** Throws RATE_LIMITED (429 with Retry-After) when the request's address is over its limit. */
  async check(request: FastifyRequest): Promise<void> {
    const path = request.url;
    if (!path.startsWith('/api/')) return;
    const isToken = TOKEN_ROUTES.test(path);
    const limit = isToken
      ? this.config.abuse.tokenRatePerMinute
      : this.config.abuse.apiRatePerMinute;
    if (limit <= 0) return;
    const bucket = `rate:${isToken ? 'token' : 'api'}:${request.ip}`;
    const result = await this.store.increment(bucket, WINDOW_SECONDS);
    if (result.count <= limit) return;
    if (result.count === limit + 1) {
      this.audit.record({
        type: AuditEventType.RateLimited,
        outcome: AuditOutcome.Denied,
        targetType: 'client',
        targetId: request.ip.slice(0, 64),
        details: { bucket: isToken ? 'token' : 'api', limitPerMinute: limit },
        context: requestContext(request),
      });
    }
    throw new DomainException(ErrorCode.RATE_LIMITED, 'Too many requests; retry later', undefined, {
      'retry-after': String(result.retryAfterSeconds),
    });
  }
}
