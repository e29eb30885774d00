import { batchedLookup, byOrdinality } from './batched-lookup';

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

describe(byOrdinality.name, () => {
  it('places rows by their ordinality and leaves keys without a row undefined', () => {
    const rows = [
      { i: '3', name: 'c' },
      { i: '1', name: 'a' },
    ];
    expect(byOrdinality(rows, 4)).toEqual([rows[1], undefined, rows[0], undefined]);
  });
});
