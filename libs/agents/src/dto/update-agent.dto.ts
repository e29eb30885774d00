import { IsOptionalNotNull, IsText } from '@agentidp/common';
import { ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { IsEnum, IsOptional, Matches } from 'class-validator';
import { AgentStatus } from '../agent.entity';
import {
  ALLOWED_SCOPES_SCHEMA,
  AllowedScopes,
  MAX_METADATA_BYTES,
  METADATA_SCHEMA,
} from './create-agent.dto';
import { IsJsonObject } from './json-object.validator';

/** Fields left out are unchanged; `description` and `owner` can be cleared with null. */
@ApiSchema({
  name: 'UpdateAgentRequest',
  description: 'Fields left out are unchanged; description and owner can be cleared with null',
})
export class UpdateAgentDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200 })
  @IsOptionalNotNull()
  @IsText(1, 200)
  @Matches(/\S/, { message: 'name must not be blank' })
  name?: string;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: 2000,
    description: 'null clears it',
  })
  @IsOptional()
  @IsText(0, 2000)
  description?: string | null;

  @ApiPropertyOptional({
    type: String,
    nullable: true,
    maxLength: 320,
    description: 'null clears it',
  })
  @IsOptional()
  @IsText(0, 320)
  owner?: string | null;

  /** `suspended` is the kill switch: no new tokens, existing ones introspect as inactive. */
  @ApiPropertyOptional({
    enum: AgentStatus,
    enumName: 'AgentStatus',
    description:
      '`suspended` is the kill switch: no new tokens, existing ones introspect as inactive',
  })
  @IsOptionalNotNull()
  @IsEnum(AgentStatus)
  status?: AgentStatus;

  @ApiPropertyOptional({
    ...ALLOWED_SCOPES_SCHEMA,
    description: `Replaces the list. ${ALLOWED_SCOPES_SCHEMA.description}`,
  })
  @AllowedScopes()
  allowedScopes?: string[];

  @ApiPropertyOptional({
    ...METADATA_SCHEMA,
    description: `Replaces the object. ${METADATA_SCHEMA.description}`,
  })
  @IsOptionalNotNull()
  @IsJsonObject(MAX_METADATA_BYTES)
  metadata?: Record<string, unknown>;
}
