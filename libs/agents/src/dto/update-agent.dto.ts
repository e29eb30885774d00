import {
  ArrayMaxSize,
  IsArray,
  IsEnum,
  IsOptional,
  IsString,
  Length,
  Matches,
  MaxLength,
} from 'class-validator';
import { AgentStatus } from '../agent.entity';
import { MAX_METADATA_BYTES } from './create-agent.dto';
import { IsJsonObject } from './json-object.validator';
import { MAX_SCOPES, SCOPE_TOKEN } from './scope-token';

export class UpdateAgentDto {
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name?: string;

  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string | null;

  @IsOptional()
  @IsString()
  @MaxLength(320)
  owner?: string | null;

  /** `suspended` is the kill switch: no new tokens, existing ones introspect as inactive. */
  @IsOptional()
  @IsEnum(AgentStatus)
  status?: AgentStatus;

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
