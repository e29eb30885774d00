import { Controller, Get, Query } from '@nestjs/common';
import { CurrentPrincipal, Principal, Scope } from '@agentidp/auth';
import {
  AuditQueryService,
  type AuditEventResponse,
  type ChainVerification,
} from './audit-query.service';
import { ListAuditEventsQuery } from './dto/list-audit-events.query';

@Controller('audit-events')
export class AuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  list(
    @CurrentPrincipal() principal: Principal,
    @Query() query: ListAuditEventsQuery,
  ): Promise<{ items: AuditEventResponse[]; nextCursor: string | null }> {
    principal.require(Scope.AuditRead);
    return this.audit.list(query);
  }

  @Get('verify')
  verify(@CurrentPrincipal() principal: Principal): Promise<ChainVerification> {
    principal.require(Scope.AuditRead);
    return this.audit.verifyChain();
  }
}
