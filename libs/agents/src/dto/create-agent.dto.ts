import {
  ArrayMaxSize,
  IsArray,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';
import { IsJsonObject } from './json-object.validator';
import { MAX_SCOPES, SCOPE_TOKEN } from './scope-token';

export const MAX_METADATA_BYTES = 16 * 1024;

export class CreateAgentDto {
  @IsString()
  @Length(1, 200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name: string;

  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string | null;

  /** The accountable human, e.g. an email address. */
  @IsOptional()
  @IsString()
  @MaxLength(320)
  owner?: string | null;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_SCOPES)
  @IsString({ each: true })
  @Matches(SCOPE_TOKEN, { each: true, message: 'each scope must be an RFC 6749 scope token' })
  allowedScopes?: string[];

  @IsOptional()
  @IsJsonObject(MAX_METADATA_BYTES)
  metadata?: Record<string, unknown>;
}
