import { Histogram, Registry } from 'prom-client';
import { LatencyHistogram } from './latency-histogram';

const CONFIG = {
  name: 'test_duration_seconds',
  help: 'Test latency',
  labelNames: ['route', 'status'] as const,
  buckets: [0.001, 0.01, 0.1, 1],
};

const OBSERVATIONS: [{ route: string; status: string }, number][] = [
  [{ route: '/a', status: '200' }, 0.0005],
  [{ route: '/a', status: '200' }, 0.001],
  [{ route: '/a', status: '200' }, 0.05],
  [{ route: '/a', status: '500' }, 3],
  [{ route: '/b "quoted"\n', status: '200' }, 0.2],
  [{ route: '/a', status: '200' }, 1],
];

describe(LatencyHistogram.name, () => {
  function both() {
    const ours = new Registry();
    const theirs = new Registry();
    return {
      ours,
      theirs,
      fast: new LatencyHistogram({ ...CONFIG, registers: [ours] }),
      reference: new Histogram({ ...CONFIG, registers: [theirs] }),
    };
  }

  it('exposes what prom-client’s Histogram exposes for the same observations', async () => {
    const { ours, theirs, fast, reference } = both();
    for (const [labels, value] of OBSERVATIONS) {
      fast.series(labels)(value);
      reference.observe(labels, value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
    expect(await ours.metrics()).toContain(
      'test_duration_seconds_bucket{le="0.001",route="/a",status="200"} 2',
    );
  });

  it('gives the same series to the same labels, whoever asked first', async () => {
    const { ours, fast } = both();
    fast.series({ route: '/a', status: '200' })(0.5);
    fast.series({ status: '200', route: '/a' })(0.5);
    expect(await ours.metrics()).toContain(
      'test_duration_seconds_count{route="/a",status="200"} 2',
    );
  });

  it('resets to zero, and observers handed out before keep counting', async () => {
    const { ours, fast } = both();
    const observe = fast.series({ route: '/a', status: '200' });
    observe(0.5);
    fast.reset();
    expect(await ours.metrics()).toContain(
      'test_duration_seconds_count{route="/a",status="200"} 0',
    );
    observe(0.5);
    expect(await ours.metrics()).toContain(
      'test_duration_seconds_count{route="/a",status="200"} 1',
    );
  });

  it('ignores a value that is not a finite number instead of corrupting the sum', async () => {
    const { ours, fast } = both();
    const observe = fast.series({ route: '/a', status: '200' });
    observe(Number.NaN);
    observe(Number.POSITIVE_INFINITY);
    observe(0.5);
    const text = await ours.metrics();
    expect(text).toContain('test_duration_seconds_count{route="/a",status="200"} 1');
    expect(text).toContain('test_duration_seconds_sum{route="/a",status="200"} 0.5');
  });
});
