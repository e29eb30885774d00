'use strict';

const http = require('node:http');
const autocannon = require('autocannon');

/**
 * One autocannon pass over keep-alive connections; each request takes the next prebuilt form body
 * (if any), so the load is spread over every credential in `bodies`.
 *
 * Latencies are recorded here from autocannon's `response` events rather than read from its
 * histogram: that histogram has whole-millisecond buckets (too coarse for a 1 ms target), and with
 * `overallRate` it applies a coordinated-omission correction with a 1 ms expected interval that
 * does not match the real one. Only 2xx answers count as completed requests.
 */
function runLoad({
  url,
  method = 'POST',
  path,
  headers,
  bodies,
  connections,
  duration,
  overallRate,
  amount,
}) {
  let next = 0;
  const latencies = [];
  const statuses = {};
  let errors = 0;
  const request = bodies
    ? {
        method,
        path,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        setupRequest: (defaults) => {
          const body = bodies[next % bodies.length];
          next += 1;
          return { ...defaults, body };
        },
      }
    : { method, path, headers };
  const options = {
    url,
    connections,
    pipelining: 1,
    timeout: 30,
    ...(amount ? { amount } : { duration }),
    ...(overallRate ? { overallRate } : {}),
    requests: [request],
  };
  return new Promise((resolve, reject) => {
    let startedAt;
    const cpuBefore = process.cpuUsage();
    const instance = autocannon(options, (error, result) => {
      if (error) return reject(error);
      resolve(
        summarise({
          latencies,
          startedAt,
          cpuBefore,
          statuses,
          errors: errors + result.errors + result.timeouts,
        }),
      );
    });
    startedAt = process.hrtime.bigint();
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
    instance.on('reqError', () => {
      errors += 1;
    });
  });
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted, fraction) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** What a load pass reports: throughput and exact percentiles of the 2xx latencies. */
function summarise({ latencies, startedAt, cpuBefore, statuses, errors }) {
  const elapsedSeconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  return {
    completed: latencies.length,
    elapsedSeconds,
    rps: latencies.length / elapsedSeconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    statuses,
    errors,
    loadGeneratorCpuMicros: cpu.user + cpu.system,
  };
}

/** Sends `body` form-encoded with `POST` through `agent`; returns the request. */
function formPost(target, agent, body, headers, onResponse) {
  const req = http.request(
    target,
    {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
        ...headers,
      },
    },
    onResponse,
  );
  req.end(body);
  return req;
}

function post(url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = formPost(url, agent, body, headers, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, json, text });
      });
    });
    req.on('error', reject);
  });
}

/** Sends every body once, a few at a time; fails on the first non-200 answer. */
async function sendEach(url, bodies, { concurrency = 8, headers } = {}) {
  const results = new Array(bodies.length);
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const index = next++;
      const response = await post(url, bodies[index], headers);
      if (response.status !== 200) {
        throw new Error(`${url} answered ${response.status}: ${response.text.slice(0, 300)}`);
      }
      results[index] = response.json;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

module.exports = { formPost, percentile, runLoad, post, sendEach, summarise };
