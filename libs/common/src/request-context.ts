import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/**
 * The request an action serves: its id, the client's address and, once a bearer token was
 * checked, the agent acting. Audit events and request-scoped log lines carry it.
 *
 * It is passed down explicitly, from the controller (or the token endpoint) to whatever records or
 * logs. AsyncLocalStorage would carry it implicitly, but on Node 20 it works through promise hooks
 * that slow every promise in the process: in A/B runs of the token endpoint, leaving it out saved
 * about a tenth of the server's CPU per grant.
 */
export interface RequestContext {
  readonly requestId: string;
  readonly clientIp: string;
  readonly actorAgentId?: string;
}

/** The context of `request`; the actor is the principal the bearer guard attached, if any. */
export function requestContext(
  request: FastifyRequest & { principal?: { agentId: string } },
): RequestContext {
  const actorAgentId = request.principal?.agentId;
  return actorAgentId === undefined
    ? { requestId: String(request.id), clientIp: request.ip }
    : { requestId: String(request.id), clientIp: request.ip, actorAgentId };
}

/** Controller parameter: the {@link RequestContext} of the request being served. */
export const CurrentRequest = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestContext =>
    requestContext(context.switchToHttp().getRequest<FastifyRequest>()),
);

/**
 * A log message tied to a request: `AppLogger` writes the id as a `requestId` field (JSON lines)
 * or a `[req …]` tag (terminal). Without a request id it is the plain message.
 */
export interface RequestLogMessage {
  readonly message: string;
  readonly requestId: string;
}

export function requestLogMessage(
  message: string,
  requestId: string | undefined,
): string | RequestLogMessage {
  return requestId === undefined ? message : { message, requestId };
}

export function isRequestLogMessage(value: unknown): value is RequestLogMessage {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RequestLogMessage).message === 'string' &&
    typeof (value as RequestLogMessage).requestId === 'string'
  );
}
