import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { LatencyHistogram, type Observe } from './latency-histogram';

const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

/** A value read at scrape time from whoever owns it (cache stats, pool use, Vault token TTL). */
export type GaugeSource = () => number | undefined;

/**
 * The application's Prometheus metrics, in a registry of its own (so several app instances in one
 * process, as in tests, do not collide). Recording costs a map lookup and an add.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly tokenRequests = new Counter({
    name: 'agentidp_token_requests_total',
    help: 'Token endpoint requests by outcome (issued or the OAuth error code)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** Recorded through {@link httpRoute} only. */
  private readonly httpDuration = new LatencyHistogram({
    name: 'agentidp_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly secretVerification = new Histogram({
    name: 'agentidp_secret_verification_duration_seconds',
    help: 'Slow-path secret verifications (cache misses) by store',
    labelNames: ['store', 'result'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly vaultCalls = new Histogram({
    name: 'agentidp_vault_request_duration_seconds',
    help: 'Vault HTTP calls by operation and outcome',
    labelNames: ['operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly secretCache = new Counter({
    name: 'agentidp_secret_cache_lookups_total',
    help: 'Verified-secret cache lookups by result (hit or miss)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'agentidp_' });
  }

  private readonly gaugeSources = new Map<string, [Record<string, string>, GaugeSource][]>();

  /** Registers a gauge whose value is read at scrape time; a source returning undefined is skipped. */
  gauge(
    name: string,
    help: string,
    source: GaugeSource,
    labels: Record<string, string> = {},
  ): void {
    let list = this.gaugeSources.get(name);
    if (!list) {
      const sources: [Record<string, string>, GaugeSource][] = [];
      list = sources;
      this.gaugeSources.set(name, sources);
      new Gauge({
        name,
        help,
        labelNames: Object.keys(labels),
        registers: [this.registry],
        collect() {
          this.reset();
          for (const [values, read] of sources) {
            const value = read();
            if (value !== undefined) this.set(values, value);
          }
        },
      });
    }
    list.push([labels, source]);
  }

  /**
   * The latency recorder of one route (its pattern, never a raw URL), made once per route: a
   * response then costs two lookups without allocation (method, then status) and an observation.
   */
  httpRoute(route: string): (method: string, status: number, seconds: number) => void {
    const byMethod = new Map<string, Observe[]>();
    return (method, status, seconds) => {
      let byStatus = byMethod.get(method);
      if (!byStatus) {
        byStatus = [];
        byMethod.set(method, byStatus);
      }
      let observe = byStatus[status];
      if (!observe) {
        observe = this.httpDuration.series({ method, route, status: String(status) });
        byStatus[status] = observe;
      }
      observe(seconds);
    };
  }
}
