import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify's `genReqId`: keeps a caller's `X-Request-Id` when it is short and plain (so ids can be
 * followed across services), otherwise makes a new one. Hostile values never reach a log line.
 */
export function generateRequestId(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  if (typeof header === 'string' && SAFE_REQUEST_ID.test(header)) return header;
  return randomUUID();
}
