'use strict';

const { existsSync, readFileSync, writeFileSync } = require('node:fs');

const TARGETS = {
  floorRatio: 0.75,
  halfLoadP99Ms: 10,
  oneConnectionP50Ms: 1,
  rssBytes: 200 * 1024 * 1024,
  bigSeedSlowdown: 0.2,
};

const integer = (value) => Math.round(value).toLocaleString('en-US');
const ms = (value) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : '—');
const mb = (bytes) => (bytes ? integer(bytes / (1024 * 1024)) : '—');
const ratio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '—');

/** How each kind of pass is named in the table. */
const KIND_LABEL = {
  max: 'max',
  half: '50 % of max (overallRate)',
  paced: '50 % of max, paced',
  one: '1 connection',
  cold: 'cold',
  round: 'max',
};

/** A store's ratio to the floor: the median of its interleaved rounds' ratios, where it has them. */
function floorRatio(pass, floor) {
  return pass.floorRatio ?? pass.rps / floor.rps;
}

/** One row per pass; the interleaved rounds behind a `max` are in the notes, not the table. */
function passRows(passes) {
  const floorOf = (kind) => passes.find((p) => p.group === 'floor' && p.kind === kind);
  return passes
    .filter((pass) => pass.kind !== 'round')
    .map((pass) => {
      const floor = (pass.group === 'bcrypt' || pass.group === 'vault') && floorOf(pass.kind);
      const compared = floor && (pass.kind === 'max' || pass.kind === 'one');
      const failed = pass.failures > 0 ? ` (${integer(pass.failures)} failed)` : '';
      return [
        `${pass.label}, ${pass.kindLabel ?? KIND_LABEL[pass.kind]}${failed}`,
        String(pass.connections),
        integer(pass.rps),
        ms(pass.p50),
        ms(pass.p99),
        integer(pass.cpuMicrosPerRequest),
        pass.pgMicrosPerRequest === null ? 'in process' : integer(pass.pgMicrosPerRequest),
        mb(pass.rssPeakBytes),
        compared ? ratio(floorRatio(pass, floor)) : '—',
      ];
    });
}

const HEADER = [
  'Pass',
  'Conns',
  'Requests/s',
  'p50 ms',
  'p99 ms',
  'CPU µs/request',
  'of which PG',
  'RSS MB',
  '× floor',
];

function markdownTable(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const align = header.map((_, i) => (i === 0 ? '---' : '---:'));
  return [line(header), line(align), ...rows.map(line)].join('\n');
}

const verdict = (met) => (met ? 'met' : '**missed**');

const STORES = [
  ['bcrypt', 'bcrypt'],
  ['vault', 'Vault'],
];

/** Each target as [target, measured, verdict], for one agent count. */
function targetRows(passes) {
  const find = (group, kind) => passes.find((p) => p.group === group && p.kind === kind);
  const floor = find('floor', 'max');
  const rows = [];
  for (const [group, name] of STORES) {
    const max = find(group, 'max');
    if (!max || !floor) continue;
    const value = floorRatio(max, floor);
    const measured = max.rounds
      ? `${ratio(value)} (median of ${max.rounds.length} interleaved rounds: ` +
        `${max.rounds.map((round) => `${integer(round.rps)} vs ${integer(round.floorRps)}`).join('; ')})`
      : `${ratio(value)} (${integer(max.rps)} vs ${integer(floor.rps)})`;
    rows.push([
      `Warm grants (${name}) ≥ ${TARGETS.floorRatio} × floor requests/s`,
      measured,
      verdict(value >= TARGETS.floorRatio),
    ]);
  }
  for (const [group, name] of STORES) {
    for (const [kind, how] of [
      ['half', 'autocannon overallRate'],
      ['paced', 'paced'],
    ]) {
      const pass = find(group, kind);
      if (!pass) continue;
      rows.push([
        `p99 ≤ ${TARGETS.halfLoadP99Ms} ms at 50 % of capacity (${name}, ${how})`,
        `${ms(pass.p99)} ms at ${integer(pass.rps)} req/s`,
        verdict(pass.p99 <= TARGETS.halfLoadP99Ms),
      ]);
    }
  }
  for (const [group, name] of STORES) {
    const one = find(group, 'one');
    if (!one) continue;
    rows.push([
      `p50 ≤ ${TARGETS.oneConnectionP50Ms} ms with one connection (${name})`,
      `${ms(one.p50)} ms`,
      verdict(one.p50 <= TARGETS.oneConnectionP50Ms),
    ]);
  }
  const appPasses = passes.filter((p) => p.group !== 'floor');
  if (appPasses.length) {
    const peak = Math.max(...appPasses.map((p) => p.rssPeakBytes ?? 0));
    rows.push([
      `AgentIdP RSS ≤ ${mb(TARGETS.rssBytes)} MB under load`,
      `${mb(peak)} MB peak`,
      verdict(peak <= TARGETS.rssBytes),
    ]);
  }
  return rows;
}

/** Grant latency with the largest seed against the smallest, when one run measured both. */
function scalingTable(runs) {
  if (runs.length < 2) return null;
  const small = runs[0];
  const big = runs[runs.length - 1];
  const rows = [];
  for (const [group, name] of STORES) {
    for (const [kind, metric, what] of [
      ['one', 'p50', 'p50, 1 connection'],
      ['paced', 'p99', 'p99, 50 % of max, paced'],
    ]) {
      const a = small.passes.find((p) => p.group === group && p.kind === kind);
      const b = big.passes.find((p) => p.group === group && p.kind === kind);
      if (!a || !b) continue;
      const change = b[metric] / a[metric] - 1;
      rows.push([
        `Grant, ${name}, ${what}`,
        `${ms(a[metric])} ms`,
        `${ms(b[metric])} ms`,
        `${change >= 0 ? '+' : ''}${(change * 100).toFixed(0)} %`,
        verdict(change <= TARGETS.bigSeedSlowdown),
      ]);
    }
  }
  const header = [
    'Latency',
    `${integer(small.agents)} agents`,
    `${integer(big.agents)} agents`,
    'Change',
    `≤ +${TARGETS.bigSeedSlowdown * 100} %`,
  ];
  return markdownTable(header, rows);
}

function renderSection(key, info, runs) {
  const parts = [`<!-- bench:${key} -->`, '', `## ${info.title}`, '', info.machine, ''];
  for (const run of runs) {
    parts.push(
      `### ${integer(run.agents)} agents`,
      '',
      markdownTable(HEADER, passRows(run.passes)),
    );
    parts.push('', markdownTable(['Target', 'Measured', ''], targetRows(run.passes)), '');
  }
  const scaling = scalingTable(runs);
  if (scaling) parts.push('### Seed size', '', scaling, '');
  parts.push(...info.notes.map((note) => `- ${note}`), '', `<!-- /bench:${key} -->`);
  return parts.join('\n');
}

const PREAMBLE = `# Benchmark results

Written by \`npm run bench\` (see [README.md](README.md) for the method and the options). Each run
replaces the section of the database it ran against. Nothing here is asserted: these are
measurements on one machine, with the load generator on the same cores.
`;

/** Replaces (or appends) this run's section of the results file and formats it as the repo does. */
async function writeResults(file, key, section) {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : PREAMBLE;
  const pattern = new RegExp(`<!-- bench:${key} -->[\\s\\S]*?<!-- /bench:${key} -->`);
  const text = pattern.test(existing)
    ? existing.replace(pattern, () => section)
    : `${existing.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, await formatMarkdown(file, text));
}

async function formatMarkdown(file, text) {
  try {
    const prettier = require('prettier');
    const config = (await prettier.resolveConfig(file)) ?? {};
    return await prettier.format(text, { ...config, parser: 'markdown' });
  } catch {
    return text;
  }
}

module.exports = { KIND_LABEL, formatMarkdown, renderSection, writeResults };
