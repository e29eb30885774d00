import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DEFAULT_PAGE_SIZE, DomainException, ErrorCode } from '@agentidp/common';
import { DataSource } from 'typeorm';
import { GENESIS_HASH, isNextLink, type ChainedFields } from './audit-chain';
import { AuditEvent } from './audit-event.entity';
import type { ListAuditEventsQuery } from './dto/list-audit-events.query';

/** An event as the API shows it: the chained fields, the time as RFC 3339, and its hash. */
export type AuditEventResponse = Omit<ChainedFields, 'occurredAt'> & {
  occurredAt: string;
  hash: string;
};

export interface ChainVerification {
  valid: boolean;
  checked: number;
  firstBrokenId: string | null;
}

const VERIFY_PAGE = 1000;

@Injectable()
export class AuditQueryService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Newest first, keyset-paginated on the id. */
  async list(
    query: ListAuditEventsQuery,
  ): Promise<{ items: AuditEventResponse[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const builder = this.dataSource.manager
      .createQueryBuilder(AuditEvent, 'event')
      .orderBy('event.id', 'DESC')
      .limit(limit + 1);
    if (query.agentId) {
      builder.andWhere('(event.actorAgentId = :agentId OR event.targetId = :agentId)', {
        agentId: query.agentId,
      });
    }
    if (query.type) builder.andWhere('event.type = :type', { type: query.type });
    if (query.from) builder.andWhere('event.occurredAt >= :from', { from: new Date(query.from) });
    if (query.to) builder.andWhere('event.occurredAt < :to', { to: new Date(query.to) });
    if (query.cursor) {
      if (!/^\d{1,19}$/.test(query.cursor)) {
        throw new DomainException(ErrorCode.VALIDATION_FAILED, 'The cursor is not valid', [
          { field: 'cursor', problems: ['cursor must be a value returned as nextCursor'] },
        ]);
      }
      builder.andWhere('event.id < :cursor', { cursor: query.cursor });
    }
    const rows = await builder.getMany();
    const page = rows.slice(0, limit);
    return {
      items: page.map(toResponse),
      nextCursor: rows.length > limit ? (page[page.length - 1]?.id ?? null) : null,
    };
  }

  /** Recomputes every link from the first event; names the first row whose hash does not hold. */
  async verifyChain(): Promise<ChainVerification> {
    let prevHash = GENESIS_HASH;
    let expectedId = 1n;
    let checked = 0;
    let after = '0';
    for (;;) {
      const rows = await this.dataSource.manager
        .createQueryBuilder(AuditEvent, 'event')
        .where('event.id > :after', { after })
        .orderBy('event.id', 'ASC')
        .limit(VERIFY_PAGE)
        .getMany();
      for (const row of rows) {
        checked += 1;
        if (!isNextLink(row, prevHash, expectedId)) {
          return { valid: false, checked, firstBrokenId: row.id };
        }
        prevHash = row.hash;
        expectedId += 1n;
      }
      if (rows.length < VERIFY_PAGE) return { valid: true, checked, firstBrokenId: null };
      after = rows[rows.length - 1].id;
    }
  }
}

function toResponse(event: AuditEvent): AuditEventResponse {
  return {
    id: event.id,
    occurredAt: event.occurredAt.toISOString(),
    type: event.type,
    outcome: event.outcome,
    actorAgentId: event.actorAgentId,
    targetType: event.targetType,
    targetId: event.targetId,
    requestId: event.requestId,
    clientIp: event.clientIp,
    details: event.details,
    hash: event.hash,
  };
}
