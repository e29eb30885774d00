import { createHash } from 'node:crypto';
import {
  canonicalJson,
  chainHash,
  GENESIS_HASH,
  isNextLink,
  type ChainedFields,
  type ChainedRow,
} from './audit-chain';

function event(id: number, overrides: Partial<ChainedFields> = {}): ChainedFields {
  return {
    id: String(id),
    occurredAt: new Date(Date.UTC(2025, 0, 1, 12, 0, id)),
    type: 'token.issued',
    outcome: 'success',
    actorAgentId: '6f1c2a4e-3b5d-4e7f-9a8b-0c1d2e3f4a5b',
    targetType: 'token',
    targetId: `jti-${id}`,
    requestId: `req-${id}`,
    clientIp: '203.0.113.7',
    details: {
      scopes: ['agents:read'],
      method: 'client_secret_basic',
      nested: { a: 1, b: [1, 2] },
    },
    ...overrides,
  };
}

/** AuditQueryService.verifyChain's walk, over rows in memory, through the same link check. */
function firstBrokenLink(rows: ChainedRow[]): string | null {
  let prevHash = GENESIS_HASH;
  let expectedId = 1n;
  for (const row of rows) {
    if (!isNextLink(row, prevHash, expectedId)) return row.id;
    prevHash = row.hash;
    expectedId += 1n;
  }
  return null;
}

function buildChain(
  events: ChainedFields[],
): (ChainedFields & { prevHash: string; hash: string })[] {
  let prevHash = GENESIS_HASH;
  return events.map((item) => {
    const hash = chainHash(prevHash, item);
    const row = { ...item, prevHash, hash };
    prevHash = hash;
    return row;
  });
}

describe(chainHash.name, () => {
  // Rows already written must keep verifying: the bytes hashed never change.
  it('gives the hash it has always given for a known event', () => {
    const known = event(42, {
      requestId: null,
      details: {
        scope: 'a b',
        method: 'client_secret_post',
        nested: { z: [1, { y: '\u00e9"', x: null }], a: true },
      },
    });
    expect(chainHash(GENESIS_HASH, known)).toBe(
      '5f7f54344ab32e4e4d54f0cbf06eac369541dffc34e242a1bdbb60c28d256168',
    );
  });

  it('hashes the canonical JSON of the event fields after the previous hash', () => {
    const item = event(7);
    const content = canonicalJson([
      item.id,
      item.occurredAt.toISOString(),
      item.type,
      item.outcome,
      item.actorAgentId,
      item.targetType,
      item.targetId,
      item.requestId,
      item.clientIp,
      item.details,
    ]);
    const expected = createHash('sha256')
      .update(`${'a'.repeat(64)}\n${content}`)
      .digest('hex');
    expect(chainHash('a'.repeat(64), item)).toBe(expected);
  });
});

describe(canonicalJson.name, () => {
  it('does not depend on key order at the top level', () => {
    expect(canonicalJson({ b: 1, a: 2, c: 3 })).toBe(canonicalJson({ c: 3, a: 2, b: 1 }));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('does not depend on key order at any depth, inside arrays too', () => {
    const one = { outer: { z: { y: 1, x: [{ q: 1, p: 2 }] }, a: null }, list: [{ b: 1, a: 2 }] };
    const two = { list: [{ a: 2, b: 1 }], outer: { a: null, z: { x: [{ p: 2, q: 1 }], y: 1 } } };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
    expect(canonicalJson(one)).toBe(
      '{"list":[{"a":2,"b":1}],"outer":{"a":null,"z":{"x":[{"p":2,"q":1}],"y":1}}}',
    );
  });

  it('keeps array order', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it('tells values of different types apart', () => {
    const values = [1, '1', true, 'true', null, 'null', [], {}, [1], { 1: 1 }];
    expect(new Set(values.map(canonicalJson)).size).toBe(values.length);
  });

  it('drops undefined properties, as JSON does', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it('escapes keys and strings', () => {
    expect(JSON.parse(canonicalJson({ 'a"b': 'c"\n\u0001' }))).toEqual({ 'a"b': 'c"\n\u0001' });
  });
});

describe(chainHash.name, () => {
  const base = event(1);
  const hash = chainHash(GENESIS_HASH, base);

  it('is a SHA-256 hex digest, stable for the same input', () => {
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(chainHash(GENESIS_HASH, event(1))).toBe(hash);
  });

  it('does not depend on the key order of details', () => {
    const reordered = event(1, {
      details: {
        nested: { b: [1, 2], a: 1 },
        method: 'client_secret_basic',
        scopes: ['agents:read'],
      },
    });
    expect(chainHash(GENESIS_HASH, reordered)).toBe(hash);
  });

  it('changes when the previous hash changes', () => {
    expect(chainHash('1'.repeat(64), base)).not.toBe(hash);
  });

  const changes: [keyof ChainedFields, ChainedFields[keyof ChainedFields]][] = [
    ['id', '2'],
    ['occurredAt', new Date(base.occurredAt.getTime() + 1)],
    ['type', 'token.denied'],
    ['outcome', 'failure'],
    ['actorAgentId', null],
    ['targetType', 'credential'],
    ['targetId', 'jti-other'],
    ['requestId', null],
    ['clientIp', '203.0.113.8'],
    ['details', { ...base.details, method: 'client_secret_post' }],
    ['details', { ...base.details, nested: { a: 2, b: [1, 2] } }],
    ['details', { ...base.details, extra: true }],
  ];

  it.each(changes)('changes when %s changes', (field, value) => {
    expect(chainHash(GENESIS_HASH, { ...base, [field]: value })).not.toBe(hash);
  });

  it('does not let a value move between adjacent fields', () => {
    const moved = chainHash(GENESIS_HASH, { ...base, targetType: null, targetId: 'token' });
    const original = chainHash(GENESIS_HASH, { ...base, targetType: 'token', targetId: null });
    expect(moved).not.toBe(original);
  });

  it('verifies a chain of several events link by link', () => {
    const rows = buildChain([event(1), event(2), event(3), event(4), event(5)]);
    expect(rows[0].prevHash).toBe(GENESIS_HASH);
    for (let index = 1; index < rows.length; index += 1) {
      expect(rows[index].prevHash).toBe(rows[index - 1].hash);
    }
    expect(new Set(rows.map((row) => row.hash)).size).toBe(rows.length);
    expect(firstBrokenLink(rows)).toBeNull();
  });

  it('names the first edited, removed or reordered event of a chain', () => {
    const rows = buildChain([event(1), event(2), event(3), event(4)]);

    const edited = rows.map((row) => ({ ...row }));
    edited[2].details = { ...edited[2].details, scopes: ['admin'] };
    expect(firstBrokenLink(edited)).toBe('3');

    expect(firstBrokenLink([rows[0], rows[2], rows[3]])).toBe('3');
    expect(firstBrokenLink([rows[0], rows[2], rows[1], rows[3]])).toBe('3');
  });
});
