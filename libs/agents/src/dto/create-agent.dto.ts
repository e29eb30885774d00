import { applyDecorators } from '@nestjs/common';
import { IsOptionalNotNull, IsText } from '@agentidp/common';
import {
  ApiProperty,
  ApiPropertyOptional,
  ApiSchema,
  type ApiPropertyOptions,
} from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches } from 'class-validator';
import { IsJsonObject } from './json-object.validator';
import { MAX_SCOPES, SCOPE_TOKEN } from './scope-token';

export const MAX_METADATA_BYTES = 16 * 1024;

/** OpenAPI of `allowedScopes`, shared by create and update. */
export const ALLOWED_SCOPES_SCHEMA: ApiPropertyOptions & { description: string } = {
  type: 'array',
  maxItems: MAX_SCOPES,
  items: { type: 'string', pattern: SCOPE_TOKEN.source },
  description:
    'Scopes the agent may request: RFC 6749 scope tokens. Management scopes (admin, agents:*, credentials:*, tokens:introspect, audit:read) can only be granted by a caller holding them.',
  example: ['invoices:read'],
};

/** OpenAPI of `metadata`, shared by create and update. */
export const METADATA_SCHEMA: ApiPropertyOptions & { description: string } = {
  type: 'object',
  additionalProperties: true,
  description: `Free-form JSON object of at most ${MAX_METADATA_BYTES} bytes serialised`,
};

/** Validation of `allowedScopes`: optional, never null, at most 100 RFC 6749 scope tokens. */
export function AllowedScopes(): PropertyDecorator {
  return applyDecorators(
    IsOptionalNotNull(),
    IsArray(),
    ArrayMaxSize(MAX_SCOPES),
    IsString({ each: true }),
    Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be an RFC 6749 scope token' }),
  );
}

@ApiSchema({ name: 'CreateAgentRequest' })
export class CreateAgentDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'billing-bot' })
  @IsText(1, 200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 2000 })
  @IsOptional()
  @IsText(0, 2000)
  description?: string | null;

  /** The accountable human, e.g. an email address. */
  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: 320,
    description: 'The accountable human, e.g. an email address',
    example: 'ops@example.com',
  })
  @IsOptional()
  @IsText(0, 320)
  owner?: string | null;

  @ApiPropertyOptional({ ...ALLOWED_SCOPES_SCHEMA, default: [] })
  @AllowedScopes()
  allowedScopes?: string[];

  @ApiPropertyOptional({ ...METADATA_SCHEMA, default: {} })
  @IsOptionalNotNull()
  @IsJsonObject(MAX_METADATA_BYTES)
  metadata?: Record<string, unknown>;
}
