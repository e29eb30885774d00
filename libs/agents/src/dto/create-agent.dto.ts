import { IsOptionalNotNull, IsText } from '@agentidp/common';
import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches } from 'class-validator';
import { IsJsonObject } from './json-object.validator';
import { MAX_SCOPES, SCOPE_TOKEN } from './scope-token';

export const MAX_METADATA_BYTES = 16 * 1024;

export class CreateAgentDto {
  @IsText(1, 200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name: string;

  @IsOptional()
  @IsText(0, 2000)
  description?: string | null;

  /** The accountable human, e.g. an email address. */
  @IsOptional()
  @IsText(0, 320)
  owner?: string | null;

  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(MAX_SCOPES)
  @IsString({ each: true })
  @Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be an RFC 6749 scope token' })
  allowedScopes?: string[];

  @IsOptionalNotNull()
  @IsJsonObject(MAX_METADATA_BYTES)
  metadata?: Record<string, unknown>;
}
