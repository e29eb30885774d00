import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface ChainedFields {
  id: string;
  occurredAt: Date;
  type: string;
  outcome: string;
  actorAgentId: string | null;
  targetType: string | null;
  targetId: string | null;
  requestId: string | null;
  clientIp: string | null;
  details: Record<string, unknown>;
}

/** JSON with object keys sorted at every depth: PostgreSQL's jsonb does not keep key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The link: SHA-256 over the previous hash and this event's canonical content. */
export function chainHash(prevHash: string, event: ChainedFields): string {
  const content = canonicalJson([
    event.id,
    event.occurredAt.toISOString(),
    event.type,
    event.outcome,
    event.actorAgentId,
    event.targetType,
    event.targetId,
    event.requestId,
    event.clientIp,
    event.details,
  ]);
  return createHash('sha256').update(prevHash).update('\n').update(content).digest('hex');
}
