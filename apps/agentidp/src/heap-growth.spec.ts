import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { applyHeapGrowth, HEAP_GROWTH_FLAG } from './heap-growth';

jest.mock('node:v8', () => ({ setFlagsFromString: jest.fn() }));

/**
 * The heap a child process ends with after churning through objects that outlive a young
 * collection (as queued audit events do), with `flag` set at run time as applyHeapGrowth sets it.
 */
function heapAfterChurn(flag?: string): number {
  const script = `
    ${flag ? `require('node:v8').setFlagsFromString(${JSON.stringify(flag)});` : ''}
    const ring = new Array(300000);
    for (let i = 0; i < 4e6; i++) ring[i % ring.length] = { i, s: 'event ' + i };
    process.stdout.write(String(process.memoryUsage().heapTotal));
  `;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return Number(result.stdout);
}

describe(applyHeapGrowth.name, () => {
  beforeEach(() => jest.mocked(setFlagsFromString).mockClear());

  it('sets V8 growing factor, or leaves V8 its own at 0', () => {
    applyHeapGrowth(50);
    expect(setFlagsFromString).toHaveBeenCalledWith('--heap-growing-percent=50');
    applyHeapGrowth(0);
    expect(setFlagsFromString).toHaveBeenCalledTimes(1);
  });

  it('names an option that V8 honours when set at run time', () => {
    const own = heapAfterChurn();
    const bounded = heapAfterChurn(`${HEAP_GROWTH_FLAG}=10`);
    expect(bounded).toBeLessThan(own * 0.8);
  }, 60_000);
});
