import { applyDecorators } from '@nestjs/common';
import {
  ApiParam,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiSchema,
} from '@nestjs/swagger';
import { ErrorCode } from '../error-code.enum';
import type { OAuthErrorCode } from '../oauth.exception';

/**
 * OpenAPI documentation of the error bodies the exception filter renders. Documentation only: the
 * filter builds the bodies itself (see `all-exceptions.filter.ts`).
 */

/** One field's validation problems, as `VALIDATION_FAILED` lists them in `details`. */
@ApiSchema({ name: 'FieldProblem' })
export class FieldProblemDto {
  @ApiProperty({ description: 'The field (dotted path for nested fields)', example: 'name' })
  field: string;

  @ApiProperty({ type: [String], example: ['name must not be blank'] })
  problems: string[];
}

/** `{statusCode, code, message, requestId, details?}`: every error outside the OAuth endpoints. */
@ApiSchema({
  name: 'ErrorBody',
  description:
    'Every error outside the OAuth endpoints. Clients branch on `code`, never on `message`.',
})
export class ErrorBodyDto {
  @ApiProperty({ type: 'integer', description: 'The HTTP status, repeated', example: 404 })
  statusCode: number;

  @ApiProperty({
    enum: ErrorCode,
    enumName: 'ErrorCode',
    description: 'Stable error code; never renamed',
    example: ErrorCode.AGENT_NOT_FOUND,
  })
  code: ErrorCode;

  @ApiProperty({ description: 'Human-readable; safe to show', example: 'Agent not found' })
  message: string;

  @ApiProperty({
    description: 'Also sent as the x-request-id header; quote it when reporting a problem',
  })
  requestId: string;

  @ApiPropertyOptional({
    type: [FieldProblemDto],
    description: 'With VALIDATION_FAILED: the problems, field by field',
  })
  details?: FieldProblemDto[];
}

const OAUTH_ERROR_CODES: OAuthErrorCode[] = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'unsupported_token_type',
  'server_error',
  'temporarily_unavailable',
  'slow_down',
];

/** RFC 6749 §5.2 error body of the token, introspection and revocation endpoints. */
@ApiSchema({
  name: 'OAuthErrorBody',
  description: 'RFC 6749 §5.2 error body of the OAuth endpoints (token, introspection, revocation)',
})
export class OAuthErrorBodyDto {
  @ApiProperty({ enum: OAUTH_ERROR_CODES, example: 'invalid_client' })
  error: OAuthErrorCode;

  @ApiProperty({ example: 'Client authentication failed' })
  error_description: string;

  @ApiPropertyOptional({
    enum: ErrorCode,
    enumName: 'ErrorCode',
    description: "The project's stable code, where one applies (e.g. CLIENT_LOCKED_OUT)",
  })
  code?: ErrorCode;

  @ApiProperty({ description: 'Also sent as the x-request-id header' })
  requestId: string;
}

/** The error statuses an operation can document. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503;

const DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: 'VALIDATION_FAILED, INVALID_JSON or INVALID_UUID',
  401: 'UNAUTHORIZED: no bearer token, or an invalid, expired or revoked one (with a Bearer challenge)',
  403: 'INSUFFICIENT_SCOPE: the token lacks the scope this call needs',
  404: 'AGENT_NOT_FOUND or CREDENTIAL_NOT_FOUND (also for agents the caller may not see)',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE: send application/json',
  429: 'RATE_LIMITED (with retry-after)',
  500: 'INTERNAL_ERROR, or a secret store failure (VAULT_*_ERROR)',
  503: 'DATABASE_UNAVAILABLE or SERVICE_UNAVAILABLE (with retry-after)',
};

const OAUTH_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: 'invalid_request, unsupported_grant_type, invalid_scope or unauthorized_client',
  401: 'invalid_client: no, unknown or wrong client credentials (with a Basic challenge)',
  403: 'invalid_client: the bearer token lacks tokens:introspect',
  404: 'Not found',
  409: 'Conflict',
  413: 'invalid_request, code PAYLOAD_TOO_LARGE',
  415: 'invalid_request, code UNSUPPORTED_MEDIA_TYPE: send form-urlencoded or JSON',
  429: 'temporarily_unavailable, code RATE_LIMITED or CLIENT_LOCKED_OUT (with retry-after)',
  500: 'server_error (e.g. code VAULT_READ_ERROR)',
  503: 'temporarily_unavailable, code DATABASE_UNAVAILABLE',
};

type Overrides = Partial<Record<ErrorStatus, string>>;

/**
 * Documents error responses with the shared {@link ErrorBodyDto} schema. `overrides` replaces the
 * default description of a status for one operation.
 */
export function ApiErrorResponses(statuses: ErrorStatus[], overrides: Overrides = {}) {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: overrides[status] ?? DESCRIPTIONS[status],
        type: ErrorBodyDto,
      }),
    ),
  );
}

/** Documents error responses of an OAuth endpoint with the shared {@link OAuthErrorBodyDto}. */
export function ApiOAuthErrorResponses(statuses: ErrorStatus[], overrides: Overrides = {}) {
  return applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: overrides[status] ?? OAUTH_DESCRIPTIONS[status],
        type: OAuthErrorBodyDto,
      }),
    ),
  );
}

/** A UUID path parameter (anything else is answered 400 INVALID_UUID). */
export function ApiUuidParam(name: string, description: string) {
  return ApiParam({ name, type: String, format: 'uuid', required: true, description });
}
