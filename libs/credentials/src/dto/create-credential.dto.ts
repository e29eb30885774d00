import { IsOptionalNotNull } from '@agentidp/common';
import { Type } from 'class-transformer';
import { IsDateString, IsInt, Max, Min } from 'class-validator';

export class CreateCredentialDto {
  /** An absolute expiry (RFC 3339); mutually exclusive with `expiresInSeconds`. */
  @IsOptionalNotNull()
  @IsDateString({ strict: true })
  expiresAt?: string;

  @IsOptionalNotNull()
  @Type(() => Number)
  @IsInt()
  @Min(60)
  @Max(10 * 365 * 24 * 3600)
  expiresInSeconds?: number;
}
