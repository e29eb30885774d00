'use strict';

const http = require('node:http');
const { formPost, summarise } = require('./load');

/**
 * An open-loop load at a steady rate: request `i` is due at `start + i / rate`, whatever happened
 * to the ones before, and its latency runs from when it was due (so time spent waiting for a free
 * connection counts, and a slow server cannot slow the load down). This is the steady 50 % load
 * that autocannon's `overallRate` does not give: that one sends each second's quota in a burst.
 */
function runPaced({ url, path, headers = {}, bodies, connections, duration, rate }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const target = new URL(path, url);
  const total = Math.round(rate * duration);
  const latencies = [];
  const statuses = {};
  let errors = 0;
  let sent = 0;
  let finished = 0;
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const nowMs = () => Number(process.hrtime.bigint() - start) / 1e6;

  return new Promise((resolve) => {
    const done = () => {
      agent.destroy();
      resolve(summarise({ latencies, startedAt: start, cpuBefore, statuses, errors }));
    };
    const send = (dueMs, body) => {
      const req = formPost(target, agent, body, headers, (res) => {
        res.resume();
        res.on('end', () => {
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode >= 200 && res.statusCode < 300) latencies.push(nowMs() - dueMs);
          if (++finished === total) done();
        });
      });
      req.on('error', () => {
        errors += 1;
        if (++finished === total) done();
      });
    };
    // Timers fire at best every millisecond: each tick sends everything that has fallen due.
    const tick = () => {
      const now = nowMs();
      while (sent < total && (sent * 1000) / rate <= now) {
        send((sent * 1000) / rate, bodies[sent % bodies.length]);
        sent += 1;
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

module.exports = { runPaced };
