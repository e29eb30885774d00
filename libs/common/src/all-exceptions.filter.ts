import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from './database-errors';
import { DomainException } from './domain.exception';
import { ERROR_STATUS, ErrorCode } from './error-code.enum';
import { OAuthException, type OAuthErrorCode } from './oauth.exception';
import { requestLogMessage } from './request-context';

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  requestId: string;
  details?: unknown;
}

interface Rendered {
  status: number;
  code: ErrorCode;
  message: string;
  details?: unknown;
  headers?: Record<string, string>;
}

/** Paths whose errors are rendered the RFC 6749 way (`error`, `error_description`). */
const OAUTH_PATH = /^\/api\/v1\/token(\/|$|\?)/;

/**
 * The one place errors become HTTP answers. Known errors keep their stable code; anything else is an
 * opaque 500 carrying only the request id, so internals (stacks, SQL, upstream messages) never leak.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    this.respond(exception, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
  }

  /** Answers `request` with the error; for routes served outside Nest's pipeline too. */
  respond(exception: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const requestId = String(request.id);

    if (reply.sent) return;

    if (exception instanceof OAuthException) {
      this.sendOAuth(reply, exception, requestId);
      return;
    }

    // Readiness failures keep terminus' per-check body: probes and operators read it as is.
    if (
      exception instanceof HttpException &&
      exception.getStatus() === 503 &&
      request.url.startsWith('/health')
    ) {
      const body = exception.getResponse();
      void reply
        .status(503)
        .headers({ 'cache-control': 'no-store' })
        .send(typeof body === 'object' ? { ...body, requestId } : { status: 'error', requestId });
      return;
    }

    const rendered = this.render(exception);
    if (rendered.status === 503) {
      this.logger.warn(
        requestLogMessage(
          `${request.method} ${request.routeOptions?.url ?? 'unmatched'}: ${rendered.code}`,
          requestId,
        ),
      );
    } else if (rendered.status >= 500) {
      this.logger.error(
        requestLogMessage(
          `${request.method} ${request.routeOptions?.url ?? 'unmatched'} failed with ${rendered.code}`,
          requestId,
        ),
        exception instanceof Error && rendered.code === ErrorCode.INTERNAL_ERROR
          ? exception.stack
          : undefined,
      );
    }

    if (OAUTH_PATH.test(request.url)) {
      this.sendOAuth(
        reply,
        new OAuthException(
          oauthErrorFor(rendered.status),
          rendered.message,
          rendered.status,
          rendered.headers,
          rendered.code,
        ),
        requestId,
      );
      return;
    }

    const body: ErrorBody = {
      statusCode: rendered.status,
      code: rendered.code,
      message: rendered.message,
      requestId,
      ...(rendered.details === undefined ? {} : { details: rendered.details }),
    };
    void reply
      .status(rendered.status)
      .headers({ ...(rendered.headers ?? {}), 'cache-control': 'no-store' })
      .send(body);
  }

  private sendOAuth(reply: FastifyReply, exception: OAuthException, requestId: string): void {
    void reply
      .status(exception.status)
      .headers({ ...exception.headers, 'cache-control': 'no-store', pragma: 'no-cache' })
      .send({
        error: exception.error,
        error_description: exception.description,
        ...(exception.code ? { code: exception.code } : {}),
        requestId,
      });
  }

  private render(exception: unknown): Rendered {
    if (exception instanceof DomainException) {
      return {
        status: ERROR_STATUS[exception.code],
        code: exception.code,
        message: exception.message,
        details: exception.details,
        headers: exception.headers,
      };
    }
    if (isDatabaseUnavailable(exception)) {
      return {
        status: 503,
        code: ErrorCode.DATABASE_UNAVAILABLE,
        message: 'The database is unavailable; retry shortly',
        headers: { 'retry-after': '1' },
      };
    }
    if (exception instanceof HttpException) {
      return fromStatus(exception.getStatus(), exception.message);
    }
    const statusCode = (exception as { statusCode?: unknown } | null)?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      // Fastify's own errors (content-type parsing, body limit, malformed JSON) arrive here.
      return fromStatus(statusCode, (exception as Error).message);
    }
    return { status: 500, code: ErrorCode.INTERNAL_ERROR, message: 'Internal server error' };
  }
}

function fromStatus(status: number, message: string): Rendered {
  switch (status) {
    case 400:
      return {
        status,
        code: /JSON/i.test(message) ? ErrorCode.INVALID_JSON : ErrorCode.VALIDATION_FAILED,
        message: /JSON/i.test(message)
          ? 'The request body is not valid JSON'
          : 'The request is invalid',
      };
    case 401:
      return { status, code: ErrorCode.UNAUTHORIZED, message: 'Authentication required' };
    case 403:
      return { status, code: ErrorCode.INSUFFICIENT_SCOPE, message: 'Forbidden' };
    case 404:
      return { status, code: ErrorCode.ROUTE_NOT_FOUND, message: 'No such route' };
    case 405:
      return { status, code: ErrorCode.METHOD_NOT_ALLOWED, message: 'Method not allowed' };
    case 413:
      return {
        status,
        code: ErrorCode.PAYLOAD_TOO_LARGE,
        message: 'The request body is too large',
      };
    case 415:
      return {
        status,
        code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        message: 'Unsupported content type; send application/json',
      };
    case 429:
      return { status, code: ErrorCode.RATE_LIMITED, message: 'Too many requests' };
    case 503:
      return {
        status,
        code: ErrorCode.SERVICE_UNAVAILABLE,
        message: 'Service unavailable; retry shortly',
      };
    default:
      return status >= 400 && status < 500
        ? { status: 400, code: ErrorCode.VALIDATION_FAILED, message: 'The request is invalid' }
        : { status: 500, code: ErrorCode.INTERNAL_ERROR, message: 'Internal server error' };
  }
}

function oauthErrorFor(status: number): OAuthErrorCode {
  if (status === 503 || status === 429) return 'temporarily_unavailable';
  if (status >= 500) return 'server_error';
  if (status === 401) return 'invalid_client';
  return 'invalid_request';
}
