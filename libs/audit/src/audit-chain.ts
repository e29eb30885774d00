import { hash } from 'node:crypto';

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

/**
 * JSON with object keys sorted at every depth: PostgreSQL's jsonb does not keep key order. Keys
 * sort by UTF-16 code units, as `Array.prototype.sort` does; undefined members are left out.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let index = 0; index < value.length; index += 1) {
      out += (index ? ',' : '') + canonicalJson(value[index]);
    }
    return `${out}]`;
  }
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    let out = '{';
    for (const key of Object.keys(object).sort()) {
      const item = object[key];
      if (item === undefined) continue;
      out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(item)}`;
    }
    return `${out}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The link: SHA-256 over the previous hash, a newline and {@link chainContent}. Every event written
 * and every row verified goes through here.
 */
export function chainHash(prevHash: string, event: ChainedFields): string {
  return linkHash(prevHash, chainContent(event));
}

/**
 * The canonical JSON of the array `[id, occurredAt (ISO 8601), type, outcome, actorAgentId,
 * targetType, targetId, requestId, clientIp, details]`, written out field by field (the same bytes
 * `canonicalJson` gives that array). `detailsJson`, when given, is `canonicalJson(event.details)`
 * already computed: the writer stores that same text in the row.
 */
export function chainContent(
  event: ChainedFields,
  detailsJson: string = canonicalJson(event.details),
): string {
  return (
    `[${JSON.stringify(event.id)},"${event.occurredAt.toISOString()}",${JSON.stringify(event.type)},` +
    `${JSON.stringify(event.outcome)},${JSON.stringify(event.actorAgentId)},` +
    `${JSON.stringify(event.targetType)},${JSON.stringify(event.targetId)},` +
    `${JSON.stringify(event.requestId)},${JSON.stringify(event.clientIp)},` +
    `${detailsJson}]`
  );
}

export function linkHash(prevHash: string, content: string): string {
  return hash('sha256', `${prevHash}\n${content}`, 'hex');
}

/** A stored event with its link. */
export type ChainedRow = ChainedFields & { prevHash: string; hash: string };

/**
 * Whether `row` is the intact link after `prevHash`: the next id (a removed row leaves a gap),
 * the previous hash it names, and its own hash recomputed from its content.
 */
export function isNextLink(row: ChainedRow, prevHash: string, expectedId: bigint): boolean {
  return (
    BigInt(row.id) === expectedId &&
    row.prevHash === prevHash &&
    chainHash(prevHash, row) === row.hash
  );
}
