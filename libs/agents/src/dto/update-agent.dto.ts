import { IsOptionalNotNull, IsText } from '@agentidp/common';
import { ArrayMaxSize, IsArray, IsEnum, IsOptional, IsString, Matches } from 'class-validator';
import { AgentStatus } from '../agent.entity';
import { MAX_METADATA_BYTES } from './create-agent.dto';
import { IsJsonObject } from './json-object.validator';
import { MAX_SCOPES, SCOPE_TOKEN } from './scope-token';

/** Fields left out are unchanged; `description` and `owner` can be cleared with null. */
export class UpdateAgentDto {
  @IsOptionalNotNull()
  @IsText(1, 200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name?: string;

  @IsOptional()
  @IsText(0, 2000)
  description?: string | null;

  @IsOptional()
  @IsText(0, 320)
  owner?: string | null;

  /** `suspended` is the kill switch: no new tokens, existing ones introspect as inactive. */
  @IsOptionalNotNull()
  @IsEnum(AgentStatus)
  status?: AgentStatus;

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
