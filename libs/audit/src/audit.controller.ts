import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponses } from '@agentidp/common';
import { CurrentPrincipal, Principal, Scope } from '@agentidp/auth';
import { AuditQueryService } from './audit-query.service';
import { AuditEventPageDto, ChainVerificationDto } from './dto/audit-event.response';
import { ListAuditEventsQuery } from './dto/list-audit-events.query';

@Controller('audit-events')
@ApiTags('audit')
@ApiBearerAuth('bearer')
@ApiErrorResponses([401, 403, 429, 500, 503])
export class AuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  @ApiOperation({
    summary: 'List audit events',
    description: 'Needs audit:read. Newest first, keyset-paginated.',
  })
  @ApiOkResponse({ type: AuditEventPageDto, description: 'One page of events' })
  @ApiErrorResponses([400])
  list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListAuditEventsQuery,
  ): Promise<AuditEventPageDto> {
    principal.require(Scope.AuditRead);
    return this.audit.list(query);
  }

  @Get('verify')
  @ApiOperation({
    summary: 'Verify the audit hash chain',
    description:
      'Needs audit:read. Recomputes every link from the first event; names the first that does not hold.',
  })
  @ApiOkResponse({ type: ChainVerificationDto, description: 'The verification result' })
  verify(@CurrentPrincipal() principal: Principal): Promise<ChainVerificationDto> {
    principal.require(Scope.AuditRead);
    return this.audit.verifyChain();
  }
}
