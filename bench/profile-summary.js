'use strict';

/**
 * Summarises a V8 CPU profile (from `npm run bench -- --cpu-prof DIR`): self time by package or
 * application library, the functions with the most self time, and the application functions with
 * the most time spent under them. Main thread only: bcrypt's async work runs on libuv's pool and
 * does not appear here. `--skip S` leaves out the first S seconds (start-up, module loading).
 *
 *   node bench/profile-summary.js DIR/agentidp-bcrypt-10000.cpuprofile [--top 25] [--skip 5]
 */

const { readFileSync } = require('node:fs');
const { parseArgs } = require('node:util');

function bucketOf(frame) {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1];
  const library = /dist\/(libs\/[^/]+|apps\/[^/]+|migrations)/.exec(url);
  if (library) return library[1];
  if (url.startsWith('node:')) return 'node: (core)';
  return url.replace(/^.*\/bench\//, 'bench/');
}

function frameKey(frame) {
  const where = frame.url
    ? `${frame.url.replace(/^.*\/(node_modules|dist|bench)\//, '$1/')}:${frame.lineNumber + 1}`
    : '';
  return `${frame.functionName || '(anonymous)'} ${where}`.trim();
}

function summarise(profile, { top, skipMicros }) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  const selfMicros = new Map();
  let elapsed = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const delta = profile.timeDeltas[i] ?? 0;
    elapsed += delta;
    if (elapsed < skipMicros) continue;
    selfMicros.set(profile.samples[i], (selfMicros.get(profile.samples[i]) ?? 0) + delta);
  }

  const buckets = new Map();
  const functions = new Map();
  const inclusive = new Map();
  const add = (map, key, micros) => map.set(key, (map.get(key) ?? 0) + micros);
  let idle = 0;
  let busy = 0;
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id).callFrame;
    if (frame.functionName === '(idle)') {
      idle += micros;
      continue;
    }
    busy += micros;
    add(buckets, bucketOf(frame), micros);
    add(functions, frameKey(frame), micros);
    // Counted once per stack, even when a function recurses.
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = frameKey(byId.get(at).callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      add(inclusive, key, micros);
    }
  }

  const pct = (micros) => `${((micros / busy) * 100).toFixed(1).padStart(5)} %`;
  const ranked = (map, filter = () => true) =>
    [...map]
      .filter(([key]) => filter(key))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, micros]) => `  ${pct(micros)}  ${key}`);
  return [
    `${((busy + idle) / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy ` +
      '(percentages are of the busy time)',
    '',
    'self time by package:',
    ...ranked(buckets),
    '',
    'self time by function:',
    ...ranked(functions),
    '',
    'time under application functions (synchronous stacks only):',
    ...ranked(inclusive, (key) => /(dist\/(libs|apps)|bench)\//.test(key)),
  ].join('\n');
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '25' },
    skip: { type: 'string', default: '0' },
  },
});
if (positionals.length === 0) {
  process.stderr.write(
    'Usage: node bench/profile-summary.js FILE.cpuprofile... [--top N] [--skip SECONDS]\n',
  );
  process.exit(1);
}
for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const summary = summarise(profile, {
    top: Number(values.top),
    skipMicros: Number(values.skip) * 1e6,
  });
  process.stdout.write(`${file}\n${summary}\n\n`);
}
