import { IsOptionalNotNull } from '@agentidp/common';
import { ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDateString, IsInt, Max, Min } from 'class-validator';

/** The body is optional: without one the credential never expires. */
@ApiSchema({
  name: 'CreateCredentialRequest',
  description: 'Optional; without an expiry the credential does not expire',
})
export class CreateCredentialDto {
  /** An absolute expiry (RFC 3339); mutually exclusive with `expiresInSeconds`. */
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'An absolute expiry in the future (RFC 3339); exclusive with expiresInSeconds',
  })
  @IsOptionalNotNull()
  @IsDateString({ strict: true })
  expiresAt?: string;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 60,
    maximum: 10 * 365 * 24 * 3600,
    description: 'A lifetime from now, in seconds; exclusive with expiresAt',
  })
  @IsOptionalNotNull()
  @Type(() => Number)
  @IsInt()
  @Min(60)
  @Max(10 * 365 * 24 * 3600)
  expiresInSeconds?: number;
}
