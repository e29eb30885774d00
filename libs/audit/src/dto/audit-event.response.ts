import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import type { AuditEventResponse, ChainVerification } from '../audit-query.service';
import { AuditEventType } from '../audit-event-type.enum';
import { AuditOutcome } from '../audit-event.entity';

/** OpenAPI of {@link AuditEventResponse}; `implements` keeps the two in step. */
@ApiSchema({ name: 'AuditEvent', description: 'One link of the tamper-evident audit chain' })
export class AuditEventDto implements AuditEventResponse {
  @ApiProperty({
    description: 'Sequence number (a 64-bit integer as a string), newest highest',
    example: '42',
  })
  id: string;

  @ApiProperty({ format: 'date-time' })
  occurredAt: string;

  @ApiProperty({
    description: `The event type: ${Object.values(AuditEventType).join(', ')}`,
    example: AuditEventType.TokenIssued,
  })
  type: string;

  @ApiProperty({ enum: Object.values(AuditOutcome), example: AuditOutcome.Success })
  outcome: string;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  actorAgentId: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'agent' })
  targetType: string | null;

  @ApiProperty({ type: String, nullable: true })
  targetId: string | null;

  @ApiProperty({ type: String, nullable: true })
  requestId: string | null;

  @ApiProperty({ type: String, nullable: true })
  clientIp: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Event-specific; never a secret',
  })
  details: Record<string, unknown>;

  @ApiProperty({ description: "SHA-256 chaining this event to the previous one's hash (hex)" })
  hash: string;
}

@ApiSchema({ name: 'AuditEventPage' })
export class AuditEventPageDto {
  @ApiProperty({ type: [AuditEventDto] })
  items: AuditEventDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `cursor` to get the next (older) page; null on the last page',
  })
  nextCursor: string | null;
}

/** OpenAPI of {@link ChainVerification}. */
@ApiSchema({ name: 'ChainVerification' })
export class ChainVerificationDto implements ChainVerification {
  @ApiProperty({ description: 'True when every link from the first event holds' })
  valid: boolean;

  @ApiProperty({ type: 'integer', description: 'Events checked' })
  checked: number;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The first event whose link does not hold; null when valid',
  })
  firstBrokenId: string | null;
}
