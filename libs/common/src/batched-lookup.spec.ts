import { batchedLookup, byOrdinality, keyedStatement } from './batched-lookup';

describe(batchedLookup.name, () => {
  it('passes the keys of one event-loop turn together, at most 64 to a call', async () => {
    const calls: number[][] = [];
    const lookup = batchedLookup(async (keys: readonly number[]) => {
      calls.push([...keys]);
      return keys.map((key) => key * 2);
    });

    const keys = Array.from({ length: 70 }, (_, index) => index);
    expect(await Promise.all(keys.map(lookup))).toEqual(keys.map((key) => key * 2));
    expect(calls.map((call) => call.length)).toEqual([64, 6]);

    await new Promise((resolve) => setImmediate(resolve));
    expect(await lookup(7)).toBe(14);
    expect(calls.at(-1)).toEqual([7]);
  });
});

describe('batchedLookup scheduling', () => {
  it('groups keys asked for in separate callbacks of one event-loop phase', async () => {
    const calls: number[][] = [];
    const lookup = batchedLookup(async (keys: readonly number[]) => {
      calls.push([...keys]);
      return [...keys];
    });
    const answers = await new Promise<number[]>((resolve) => {
      const pending: Promise<number>[] = [];
      setTimeout(() => pending.push(lookup(1)));
      setTimeout(() => {
        pending.push(lookup(2));
        void Promise.all(pending).then(resolve);
      });
    });
    expect(answers).toEqual([1, 2]);
    expect(calls).toEqual([[1, 2]]);
  });
});

describe(keyedStatement.name, () => {
  const statement = keyedStatement(
    'lookup',
    ['uuid', 'int'],
    (keys) => `SELECT * FROM (${keys}) AS k (a, b, i)`,
  );

  it('numbers the keys in a VALUES list, one named statement per power of two, padded with the last key', () => {
    expect(statement([['x', 1]])).toEqual({
      name: 'lookup_1',
      text: 'SELECT * FROM (VALUES ($1::uuid, $2::int, 1)) AS k (a, b, i)',
      values: ['x', 1],
    });
    expect(
      statement([
        ['x', 1],
        ['y', 2],
        ['z', 3],
      ]),
    ).toEqual({
      name: 'lookup_4',
      text:
        'SELECT * FROM (VALUES ($1::uuid, $2::int, 1), ($3::uuid, $4::int, 2), ' +
        '($5::uuid, $6::int, 3), ($7::uuid, $8::int, 4)) AS k (a, b, i)',
      values: ['x', 1, 'y', 2, 'z', 3, 'z', 3],
    });
  });
});

describe(byOrdinality.name, () => {
  it('places rows by their ordinality and leaves keys without a row undefined', () => {
    const rows = [
      { i: '3', name: 'c' },
      { i: '1', name: 'a' },
    ];
    expect(byOrdinality(rows, 4)).toEqual([rows[1], undefined, rows[0], undefined]);
    // Rows of padding keys are not answers.
    expect(byOrdinality([...rows, { i: '5', name: 'padding' }], 4)).toEqual([
      rows[1],
      undefined,
      rows[0],
      undefined,
    ]);
  });
});
