import { Type } from 'class-transformer';
import { IsDateString, IsInt, IsOptional, Max, Min } from 'class-validator';

export class CreateCredentialDto {
  /** An absolute expiry (RFC 3339); mutually exclusive with `expiresInSeconds`. */
  @IsOptional()
  @IsDateString({ strict: true })
  expiresAt?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(60)
  @Max(10 * 365 * 24 * 3600)
  expiresInSeconds?: number;
}
