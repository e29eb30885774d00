/** RFC 6749 §5.2 error codes, plus the ones RFC 6750, 7009 and 7662 add. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'unsupported_token_type'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'slow_down';

/**
 * An error from an OAuth endpoint (token, introspection, revocation): rendered as
 * `{"error", "error_description"}` per RFC 6749 §5.2, never as the project's own error body.
 * `code` adds the project's stable code where one applies (e.g. `VAULT_READ_ERROR`).
 */
export class OAuthException extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
    readonly headers: Record<string, string> = {},
    readonly code?: string,
  ) {
    super(description);
    this.name = 'OAuthException';
  }
}
