import { isDataRefusal } from './database-errors';

describe(isDataRefusal.name, () => {
  it.each([
    ['22P02', 'invalid text representation'],
    ['22021', 'character not in repertoire'],
    ['23505', 'unique violation'],
    ['23514', 'check violation'],
  ])('is true for %s (%s), also wrapped as TypeORM does', (code) => {
    expect(isDataRefusal({ code })).toBe(true);
    expect(isDataRefusal({ driverError: { code } })).toBe(true);
  });

  it.each([
    ['57014', 'statement timeout'],
    ['55P03', 'lock not available'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
    ['25006', 'read-only transaction (a standby during failover)'],
    ['ECONNRESET', 'connection lost'],
  ])('is false for %s (%s): a retry may pass', (code) => {
    expect(isDataRefusal({ code })).toBe(false);
  });

  it('is false for anything that is not an error object', () => {
    expect(isDataRefusal(undefined)).toBe(false);
    expect(isDataRefusal('23505')).toBe(false);
  });
});
