import { type ErrorCode } from './error-code.enum';

/**
 * What services throw. The exception filter turns it into `{statusCode, code, message, requestId}`;
 * `message` must be safe to show a client (no secrets, paths, SQL or upstream messages).
 */
export class DomainException extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'DomainException';
  }
}
