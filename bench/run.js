'use strict';

/**
 * `npm run bench`: AgentIdP's token endpoint against a bare node:http floor, on this machine.
 * See README.md beside this file. Progress goes to stderr, the results table to stdout and to
 * bench/results.md. The server must be built first (`npm run build`).
 */

const { randomBytes, randomUUID } = require('node:crypto');
const {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} = require('node:fs');
const os = require('node:os');
const { join, relative, resolve } = require('node:path');
const { parseArgs } = require('node:util');
const { Client } = require('pg');
const dataset = require('./lib/dataset');
const { percentile, runLoad, sendEach } = require('./lib/load');
const { runPaced } = require('./lib/paced');
const processes = require('./lib/processes');
const { KIND_LABEL, formatMarkdown, renderSection, writeResults } = require('./lib/report');
const { startVault } = require('./lib/vault');

const ROOT = resolve(__dirname, '..');
const MAIN = 'dist/apps/agentidp/src/main.js';
/** The Node.js flags `npm start` (and the Dockerfile) run the server with. */
const START_FLAGS = require('../package.json')
  .scripts.start.split(' ')
  .filter((word) => word.startsWith('--'));
const EMBEDDED_POSTGRES = 'dist/libs/database/src/embedded-postgres.js';
const TOKEN_PATH = '/api/v1/token';
const INTROSPECT_PATH = '/api/v1/token/introspect';
const BCRYPT_CONCURRENCY = 2;
const SETTLE_SECONDS = 2;

const USAGE = `Usage: npm run bench -- [options]

  --agents N[,N...]   agents to seed, one run per count (default 10000; e.g. 10000,1000000)
  --duration S        seconds per measured pass (default 10)
  --connections N     connections for the throughput passes (default 32)
  --rounds N          interleaved floor/store saturation rounds per store (default 5)
  --round-duration S  seconds per pass of a round (default 6)
  --credentials N     credentials the warm passes cycle through (default 1000)
  --cold N            credentials hashed at bcrypt cost 12 for the cold pass (default 200)
  --vault-cold N      Vault-backed credentials for the cold Vault pass (default 2000)
  --skip-vault        no Vault passes
  --quick             floor and warm bcrypt grants only (max, paced 50 %, one connection), not saved
  --cpu-prof DIR      run the servers under node --cpu-prof, profiles written to DIR
  --out FILE          results file (default bench/results.md)

DATABASE_URL set: a fresh database is created on that server for each run and dropped after.
Unset: the embedded PGlite database, in a temporary directory.`;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      agents: { type: 'string', default: '10000' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '32' },
      rounds: { type: 'string', default: '5' },
      'round-duration': { type: 'string', default: '6' },
      credentials: { type: 'string', default: '1000' },
      cold: { type: 'string', default: '200' },
      'vault-cold': { type: 'string', default: '2000' },
      'skip-vault': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      out: { type: 'string', default: join(__dirname, 'results.md') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const count = (name, text, min = 1) => {
    const value = Number(text.replace(/_/g, ''));
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name} must be an integer ≥ ${min}`);
    return value;
  };
  return {
    agents: values.agents.split(',').map((text) => count('agents', text.trim())),
    duration: count('duration', values.duration),
    connections: count('connections', values.connections),
    rounds: count('rounds', values.rounds),
    roundSeconds: count('round-duration', values['round-duration']),
    credentials: count('credentials', values.credentials),
    cold: count('cold', values.cold, 2),
    vaultCold: count('vault-cold', values['vault-cold'], 1),
    vault: !values['skip-vault'] && !values.quick,
    quick: values.quick,
    cpuProf: values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined,
    out: resolve(values.out),
    databaseUrl: process.env.DATABASE_URL || undefined,
  };
}

function progress(message) {
  process.stderr.write(`${message}\n`);
}

/** A build older than the sources would measure old code: say so rather than guess. */
function checkBuild() {
  const main = join(ROOT, MAIN);
  if (!existsSync(main)) throw new Error('dist/ is missing: run `npm run build` first');
  const built = statSync(main).mtimeMs;
  const newer = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/(?<!\.spec)\.ts$/.test(entry.name) && statSync(path).mtimeMs > built)
        newer.push(path);
    }
  };
  for (const dir of ['apps', 'libs', 'migrations']) walk(join(ROOT, dir));
  if (newer.length) {
    progress(
      `warning: ${newer.length} source file(s) changed since the last build, e.g. ` +
        `${relative(ROOT, newer[0])}; run \`npm run build\` to measure the current code`,
    );
  }
}

/**
 * A private copy of dist/, so that a rebuild while the benchmark runs (which empties dist/ first)
 * can neither break it nor mix two builds in one run. Its bare imports resolve through NODE_PATH.
 */
function snapshotBuild() {
  const dir = mkdtempSync(join(os.tmpdir(), 'agentidp-bench-build-'));
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  return dir;
}

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? 'unknown CPU';
  return {
    nproc: os.availableParallelism(),
    model,
    node: process.version,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    loadAverage: os.loadavg()[0].toFixed(2),
  };
}

/** A fresh database for one run: a new PostgreSQL database, or a new PGlite directory. */
async function createDatabase(options, workDir) {
  if (!options.databaseUrl) {
    const manifest = join(ROOT, 'node_modules/@electric-sql/pglite/package.json');
    const { version } = JSON.parse(readFileSync(manifest, 'utf8'));
    return {
      kind: 'embedded',
      title: `embedded PGlite ${version}`,
      dataDir: join(workDir, 'data'),
      async drop() {},
    };
  }
  const name = `agentidp_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: options.databaseUrl });
  await admin.connect();
  let version;
  try {
    version = (await admin.query('SHOW server_version')).rows[0].server_version;
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(options.databaseUrl);
  url.pathname = `/${name}`;
  progress(`created database ${name}`);
  return {
    kind: 'postgres',
    title: `PostgreSQL ${version.split(' ')[0]}`,
    name,
    url: url.toString(),
    dataDir: join(workDir, 'data'),
    async drop() {
      const client = new Client({ connectionString: options.databaseUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
      progress(`dropped database ${name}`);
    },
  };
}

/**
 * CPU of the PostgreSQL server that serves this benchmark: every `postgres` process except the
 * backends (and autovacuum workers) of other databases, which other users of a shared server own,
 * and this meter's own connection.
 */
async function postgresMeter(database) {
  const client = new Client({
    connectionString: database.url,
    application_name: 'agentidp-bench-meter',
  });
  // Dropping the database at the end (or on an interrupt) ends this session: not an error.
  client.on('error', () => {});
  await client.connect();
  const snapshot = async () => {
    const { rows } = await client.query(
      `SELECT pid FROM pg_stat_activity
        WHERE (datname IS NOT NULL AND datname <> current_database()) OR pid = pg_backend_pid()`,
    );
    const excluded = new Set(rows.map((row) => row.pid));
    const cpu = new Map();
    for (const pid of processes.postgresPids()) {
      if (excluded.has(pid)) continue;
      const micros = processes.cpuMicros(pid);
      if (micros !== null) cpu.set(pid, micros);
    }
    return cpu;
  };
  return {
    snapshot,
    /** Processes that started during the pass count from zero; ones that ended are lost. */
    delta(before, after) {
      let total = 0;
      for (const [pid, micros] of after) total += micros - (before.get(pid) ?? 0);
      return total;
    },
    close: () => client.end(),
  };
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Before each server's passes: vacuum, analyse and checkpoint, so that no pass pays for the
 * maintenance an earlier server's writes left behind (autovacuum of the audit rows the bcrypt
 * passes wrote used to land in the Vault passes, which then measured ~20 % below the same cache
 * hits in bcrypt mode). What a pass's own writes cost while it runs is still counted. PostgreSQL
 * only: the embedded database lives inside each server process, so there is nothing to settle
 * from outside it.
 */
async function settleDatabase(context) {
  const { database } = context;
  if (!database.url) return;
  const client = new Client({ connectionString: database.url });
  let connected = false;
  try {
    await client.connect();
    connected = true;
    await client.query('VACUUM (ANALYZE)');
    await client.query('CHECKPOINT');
  } catch (error) {
    progress(`  (could not settle the database: ${error.message}; passes may pay for maintenance)`);
  } finally {
    if (connected) await client.end();
  }
}

function assertRunning(target) {
  const { child, name, logFile } = target.proc;
  if (child.exitCode === null && child.signalCode === null) return;
  throw new Error(
    `${name} ended during the run (exit code ${child.exitCode}, signal ${child.signalCode}); ` +
      `something outside the benchmark may have stopped it. Its log:\n${processes.tail(logFile)}`,
  );
}

/** Runs one load pass and charges the CPU the server and PostgreSQL spent meanwhile to it. */
async function measure(context, target, pass, load) {
  const pgBefore = context.pgMeter ? await context.pgMeter.snapshot() : null;
  const serverBefore = processes.cpuMicros(target.pid);
  const mainBefore = processes.mainThreadCpuMicros(target.pid);
  const vaultBefore = target.vaultPid ? processes.cpuMicros(target.vaultPid) : null;
  const rss = processes.rssSampler(target.pid);
  assertRunning(target);
  const result = await (load.rate ? runPaced : runLoad)({ url: target.url, ...load });
  assertRunning(target);
  // Deferred work (audit batches flush every 100 ms) belongs to this pass, not the next.
  await wait(300);
  const rssPeakBytes = rss.stop();
  const serverMicros = processes.cpuMicros(target.pid) - serverBefore;
  const mainMicros = processes.mainThreadCpuMicros(target.pid) - mainBefore;
  const vaultMicros =
    vaultBefore === null ? null : processes.cpuMicros(target.vaultPid) - vaultBefore;
  const pgMicros = pgBefore
    ? context.pgMeter.delta(pgBefore, await context.pgMeter.snapshot())
    : null;
  const completed = Math.max(1, result.completed);
  const failures = Object.entries(result.statuses)
    .filter(([status]) => Number(status) < 200 || Number(status) >= 300)
    .reduce((sum, [, n]) => sum + n, result.errors);
  const record = {
    ...pass,
    connections: load.connections,
    rps: result.rps,
    p50: result.p50,
    p99: result.p99,
    cpuMicrosPerRequest: (serverMicros + (pgMicros ?? 0)) / completed,
    pgMicrosPerRequest: pgMicros === null ? null : pgMicros / completed,
    mainThreadMicrosPerRequest: mainMicros / completed,
    vaultMicrosPerRequest: vaultMicros === null ? null : vaultMicros / completed,
    rssPeakBytes,
    loadGeneratorCpuShare: result.loadGeneratorCpuMicros / (result.elapsedSeconds * 1e6),
    failures,
    statuses: result.statuses,
  };
  const fmt = (value) => Math.round(value).toLocaleString('en-US');
  const cpuParts = [
    `main thread ${fmt(record.mainThreadMicrosPerRequest)}`,
    ...(pgMicros === null ? [] : [`PG ${fmt(record.pgMicrosPerRequest)}`]),
    ...(vaultMicros === null
      ? []
      : [`not counted: Vault server ${fmt(record.vaultMicrosPerRequest)}`]),
  ];
  progress(
    `  ${pass.label}, ${pass.kindLabel ?? KIND_LABEL[pass.kind]}: ` +
      `${fmt(record.rps)} req/s, p50 ${record.p50.toFixed(2)} ms, p99 ${record.p99.toFixed(2)} ms, ` +
      `${fmt(record.cpuMicrosPerRequest)} µs CPU/request (${cpuParts.join(', ')}), ` +
      `RSS ${Math.round(rssPeakBytes / 2 ** 20)} MB, load generator ` +
      `${Math.round(record.loadGeneratorCpuShare * 100)} % of a core` +
      (failures ? `, ${failures} FAILED: ${JSON.stringify(result.statuses)}` : ''),
  );
  context.passes.push(record);
  return record;
}

/** The median by nearest rank (the middle round of an odd number, as the default five). */
const median = (values) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

/**
 * Saturation, as interleaved rounds when a floor is given: a floor pass and this server's, back to
 * back (alternating which goes first), `rounds` times, each at full concurrency. The machine's
 * speed drifts between minutes (shared, noisy cores), so a ratio taken from passes run minutes
 * apart measures the drift as much as the server; each round's ratio compares two passes seconds
 * apart, and the recorded `max` holds the medians over the rounds (its ratio the median of the
 * rounds' ratios). Then half of that maximum twice, with autocannon's `overallRate` (bursts at
 * the top of every second) and evenly paced; then one connection.
 */
async function throughputPasses(context, target, group, label, load, floor) {
  const { duration, connections, rounds, roundSeconds } = context.options;
  if (floor)
    await runLoad({ url: floor.target.url, ...floor.load, connections, duration: SETTLE_SECONDS });
  await runLoad({ url: target.url, ...load, connections, duration: SETTLE_SECONDS });
  const pass = (kind, extra) =>
    measure(context, target, { group, label, kind }, { ...load, ...extra });
  let max;
  if (!floor) {
    max = await pass('max', { connections, duration });
  } else {
    const pairs = [];
    for (let round = 1; round <= rounds; round += 1) {
      const saturate = { connections, duration: roundSeconds };
      const floorPass = () =>
        measure(
          context,
          floor.target,
          { group: 'floor', label: `Floor (node:http), round ${round} of ${group}`, kind: 'round' },
          { ...floor.load, ...saturate },
        );
      const ownPass = () =>
        measure(
          context,
          target,
          { group, label: `${label}, round ${round}`, kind: 'round' },
          { ...load, ...saturate },
        );
      // A B, then B A: a trend across the rounds favours neither.
      let floorResult;
      let own;
      if (round % 2) {
        floorResult = await floorPass();
        own = await ownPass();
      } else {
        own = await ownPass();
        floorResult = await floorPass();
      }
      // A ratio to a floor that failed would say nothing: stop, keeping the logs.
      if (floorResult.failures > 0 || floorResult.rps === 0) {
        throw new Error(
          `the floor failed ${floorResult.failures} requests in round ${round} of ${group}`,
        );
      }
      pairs.push({ floor: floorResult, own, ratio: own.rps / floorResult.rps });
    }
    const ratio = median(pairs.map((pair) => pair.ratio));
    const at = (pick) => median(pairs.map((pair) => pick(pair.own)));
    max = {
      group,
      label,
      kind: 'max',
      connections,
      rps: at((p) => p.rps),
      p50: at((p) => p.p50),
      p99: at((p) => p.p99),
      cpuMicrosPerRequest: at((p) => p.cpuMicrosPerRequest),
      pgMicrosPerRequest:
        pairs[0].own.pgMicrosPerRequest === null ? null : at((p) => p.pgMicrosPerRequest),
      mainThreadMicrosPerRequest: at((p) => p.mainThreadMicrosPerRequest),
      rssPeakBytes: Math.max(...pairs.map((pair) => pair.own.rssPeakBytes)),
      loadGeneratorCpuShare: Math.max(...pairs.map((pair) => pair.own.loadGeneratorCpuShare)),
      failures: pairs.reduce((sum, pair) => sum + pair.own.failures, 0),
      floorRatio: ratio,
      rounds: pairs.map((pair) => ({
        floorRps: pair.floor.rps,
        rps: pair.own.rps,
        ratio: pair.ratio,
      })),
    };
    context.passes.push(max);
    progress(
      `  ${label}, max: median of ${rounds} interleaved rounds ${Math.round(max.rps).toLocaleString('en-US')} req/s, ` +
        `${ratio.toFixed(2)}× floor (rounds: ${pairs.map((pair) => pair.ratio.toFixed(2)).join(', ')})`,
    );
  }
  const rate = Math.max(1, Math.round(max.rps / 2));
  if (context.options.quick) {
    await pass('paced', { connections, duration, rate });
    await pass('one', { connections: 1, duration });
    return;
  }
  await pass('half', { connections, duration, overallRate: rate });
  await pass('paced', { connections, duration, rate });
  await pass('one', { connections: 1, duration });
}

const grantBody = (row) =>
  `grant_type=client_credentials&client_id=${row.agentId}&client_secret=${row.secret}`;

function serverEnv(context, port, extra = {}) {
  const { database } = context;
  return {
    PATH: process.env.PATH,
    NODE_PATH: join(ROOT, 'node_modules'),
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    DATA_DIR: database.dataDir,
    ...(database.url ? { DATABASE_URL: database.url } : {}),
    ...extra,
  };
}

function nodeArgs(context, name, script, flags = []) {
  const { cpuProf } = context.options;
  const profile = cpuProf
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${cpuProf}`,
        `--cpu-prof-name=${name}-${context.agents}.cpuprofile`,
      ]
    : [];
  return [...flags, ...profile, script];
}

async function startAgentIdP(context, name, extraEnv = {}) {
  const port = await processes.freePort();
  const proc = processes.startProcess(
    `AgentIdP (${name})`,
    nodeArgs(context, `agentidp-${name}`, join(context.build, MAIN), START_FLAGS),
    {
      cwd: context.workDir,
      logFile: join(context.workDir, `agentidp-${name}.log`),
      env: serverEnv(context, port, {
        RATE_LIMIT_TOKEN_PER_MINUTE: '0',
        RATE_LIMIT_API_PER_MINUTE: '0',
        BOOTSTRAP_ADMIN_CLIENT_ID: context.admin.clientId,
        BOOTSTRAP_ADMIN_CLIENT_SECRET: context.admin.clientSecret,
        SIGNING_KEYS_ENCRYPTION_KEY: context.signingKeysKey,
        BCRYPT_COST: '12',
        BCRYPT_CONCURRENCY: String(BCRYPT_CONCURRENCY),
        ...extraEnv,
      }),
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await processes.waitReady(proc, `${url}/health/ready`);
  return { proc, pid: proc.pid, url };
}

async function startFloor(context) {
  const port = await processes.freePort();
  const { database, workDir } = context;
  // Embedded: the floor runs beside AgentIdP, and one PGlite directory has one owner at a time,
  // so the floor reads a copy of the seeded one.
  const floorData = join(workDir, 'floor-data');
  if (!database.url) cpSync(database.dataDir, floorData, { recursive: true });
  const proc = processes.startProcess(
    'floor',
    nodeArgs(context, 'floor', join(__dirname, 'floor-server.js')),
    {
      cwd: context.workDir,
      logFile: join(context.workDir, 'floor.log'),
      env: serverEnv(context, port, {
        EMBEDDED_POSTGRES_MODULE: join(context.build, EMBEDDED_POSTGRES),
        FLOOR_HMAC_KEY: dataset.floorKey(context.seedKey).toString('hex'),
        DB_POOL_SIZE: '10',
        ...(database.url ? {} : { DATA_DIR: floorData }),
      }),
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await processes.waitReady(proc, `${url}/health/ready`);
  return { proc, pid: proc.pid, url };
}

async function seed(context) {
  const proc = processes.startProcess('seeder', [join(__dirname, 'seed.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_PATH: join(ROOT, 'node_modules'),
      BENCH_SEED: JSON.stringify({
        embeddedPostgresModule: join(context.build, EMBEDDED_POSTGRES),
        databaseUrl: context.database.url,
        dataDir: context.database.dataDir,
        seedKey: context.seedKey.toString('hex'),
        ...context.sizes,
      }),
    },
  });
  const { code } = await proc.exited;
  if (code !== 0) throw new Error('seeding failed');
}

function sizesFor(options, agents) {
  const { credentials, cold, vaultCold, vault } = options;
  return { agents, credentials, cold, vaultCold, vault };
}

async function benchAgents(options, build, agents) {
  const sizes = sizesFor(options, agents);
  const ranges = dataset.layout(sizes);
  const workDir = mkdtempSync(join(os.tmpdir(), 'agentidp-bench-'));
  const removeWorkDir = () => rmSync(workDir, { recursive: true, force: true });
  cleanups.add(removeWorkDir);
  const database = await createDatabase(options, workDir);
  cleanups.add(database.drop);
  const context = {
    options,
    build,
    agents,
    workDir,
    database,
    sizes,
    ranges,
    seedKey: randomBytes(32),
    signingKeysKey: randomBytes(32).toString('base64'),
    admin: { clientId: randomUUID(), clientSecret: randomBytes(32).toString('base64url') },
    passes: [],
    pgMeter: null,
  };
  const running = [];
  const stop = async (target) => {
    running.splice(running.indexOf(target), 1);
    await processes.stopProcess(target.proc);
  };
  let ok = false;
  try {
    progress(`\n${agents.toLocaleString('en-US')} agents, ${database.title}`);
    progress('applying migrations (one AgentIdP start)');
    const migrator = await startAgentIdP(context, 'migrate');
    running.push(migrator);
    await stop(migrator);
    progress('seeding');
    await seed(context);
    if (database.url) context.pgMeter = await postgresMeter(database);
    const rows = (name) => dataset.rowsOf(context.seedKey, context.ranges[name]);

    await settleDatabase(context);
    progress('floor (node:http + pg)');
    // The floor keeps running: its saturation pass is repeated between each store's own.
    const floor = await startFloor(context);
    running.push(floor);
    const floorLoad = { path: TOKEN_PATH, bodies: rows('floor').map(grantBody) };
    await sendEach(`${floor.url}${TOKEN_PATH}`, floorLoad.bodies);
    await throughputPasses(context, floor, 'floor', 'Floor (node:http)', floorLoad);
    const interleaved = { target: floor, load: floorLoad };

    await settleDatabase(context);
    progress('AgentIdP, bcrypt-backed credentials');
    const app = await startAgentIdP(context, 'bcrypt');
    running.push(app);
    const warmBodies = rows('bcryptWarm').map(grantBody);
    const tokens = (await sendEach(`${app.url}${TOKEN_PATH}`, warmBodies)).map(
      (r) => r.access_token,
    );
    await throughputPasses(
      context,
      app,
      'bcrypt',
      'Grant, bcrypt, warm',
      { path: TOKEN_PATH, bodies: warmBodies },
      interleaved,
    );
    // What the framework alone costs: liveness touches no dependency.
    await measure(
      context,
      app,
      { group: 'reference', label: 'AgentIdP GET /health (no database)', kind: 'max' },
      {
        method: 'GET',
        path: '/health',
        connections: options.connections,
        duration: options.duration,
      },
    );
    if (options.quick) {
      ok = true;
      return { agents, passes: context.passes, database };
    }
    const coldRows = rows('bcryptCold');
    await measure(
      context,
      app,
      {
        group: 'bcrypt',
        label: 'Grant, bcrypt',
        kind: 'cold',
        kindLabel: 'cold (cost 12, first use)',
      },
      {
        path: TOKEN_PATH,
        bodies: coldRows.map(grantBody),
        connections: Math.min(BCRYPT_CONCURRENCY, coldRows.length),
        amount: coldRows.length,
      },
    );
    const [introspector] = rows('introspector');
    await sendEach(`${app.url}${TOKEN_PATH}`, [grantBody(introspector)]);
    const basic = Buffer.from(`${introspector.agentId}:${introspector.secret}`).toString('base64');
    await throughputPasses(context, app, 'introspection', 'Introspection', {
      path: INTROSPECT_PATH,
      headers: { authorization: `Basic ${basic}` },
      bodies: tokens.map((token) => `token=${token}`),
    });
    await stop(app);

    if (options.vault) {
      await settleDatabase(context);
      progress('AgentIdP, Vault-backed credentials (test Vault server)');
      const vault = await startVault({ root: ROOT, workDir });
      try {
        const warmRows = rows('vaultWarm');
        const coldVaultRows = rows('vaultCold');
        await vault.writeSecrets([...warmRows, ...coldVaultRows]);
        const vaultApp = await startAgentIdP(context, 'vault', {
          VAULT_ADDR: vault.addr,
          VAULT_TOKEN: vault.token,
          VAULT_KV_MOUNT: dataset.VAULT_MOUNT,
        });
        running.push(vaultApp);
        vaultApp.vaultPid = vault.proc.pid;
        const vaultBodies = warmRows.map(grantBody);
        await sendEach(`${vaultApp.url}${TOKEN_PATH}`, vaultBodies);
        await throughputPasses(
          context,
          vaultApp,
          'vault',
          'Grant, Vault, warm',
          { path: TOKEN_PATH, bodies: vaultBodies },
          interleaved,
        );
        await measure(
          context,
          vaultApp,
          { group: 'vault', label: 'Grant, Vault', kind: 'cold', kindLabel: 'cold (first use)' },
          {
            path: TOKEN_PATH,
            bodies: coldVaultRows.map(grantBody),
            connections: Math.min(options.connections, coldVaultRows.length),
            amount: coldVaultRows.length,
          },
        );
        await stop(vaultApp);
      } finally {
        await vault.stop();
      }
    }
    ok = true;
    return { agents, passes: context.passes, database };
  } finally {
    for (const target of running) await processes.stopProcess(target.proc);
    await context.pgMeter?.close();
    await database.drop();
    cleanups.delete(database.drop);
    cleanups.delete(removeWorkDir);
    if (ok) removeWorkDir();
    else progress(`logs kept in ${workDir}`);
  }
}

function notes(options, runs, host) {
  const { credentials } = options;
  const loadShare = Math.max(
    ...runs.flatMap((run) => run.passes.map((p) => p.loadGeneratorCpuShare)),
  );
  return [
    `autocannon ${require('autocannon/package.json').version} in the benchmark's own process on ` +
      `the same ${host.nproc} cores, over loopback with keep-alive connections; it used up to ` +
      `${Math.round(loadShare * 100)} % of a core. Each measured pass ran ${options.duration} s after ` +
      `a ${SETTLE_SECONDS} s unmeasured one; warm passes cycle through ${credentials.toLocaleString('en-US')} ` +
      'credentials whose verification was cached beforehand (one grant each). A store’s “max” is ' +
      `the median of ${options.rounds} interleaved rounds, each a ${options.roundSeconds} s floor ` +
      'pass at full concurrency and the store’s, back to back (floor first in odd rounds, store ' +
      'first in even ones), because the machine’s speed drifts from one minute to the next; its ' +
      '× floor is the median of the rounds’ ratios. The floor’s own “max” row is its first pass, ' +
      'which sets the rate of its 50 % passes.',
    'Latencies are exact per-request times (autocannon’s own histogram has whole-millisecond ' +
      'buckets). “50 % of max (overallRate)” is autocannon’s rate limit, which lets each connection ' +
      'send its quota for the second back to back and then idle until the next one: bursts at full ' +
      'concurrency, so its latencies are close to saturation’s. “Paced” sends the same rate evenly ' +
      '(bench/lib/paced.js, open loop over the same number of keep-alive connections, latency ' +
      'counted from when each request was due), which is what a steady 50 % load looks like.',
    'CPU per request: utime + stime from /proc of the server process' +
      (runs[0].database.kind === 'postgres'
        ? ' plus every `postgres` process except backends of other databases'
        : ' (PGlite runs inside it)') +
      ', divided by the 2xx answers. RSS: the server process’s peak VmRSS, sampled every 200 ms.',
    'Seeded with SQL, one credential per agent. Warm-pass credentials are hashed at bcrypt cost 4 ' +
      '(a warm request never runs bcrypt), the cold bcrypt pass uses ' +
      `${options.cold} credentials hashed at the default cost 12 and 2 connections ` +
      `(BCRYPT_CONCURRENCY=${BCRYPT_CONCURRENCY}); rows no pass presents share one hash.` +
      (options.vault
        ? ` Vault mode: the test Vault server (test/vault-server) holds the secrets of the ` +
          `${credentials.toLocaleString('en-US')} warm and ${options.vaultCold.toLocaleString('en-US')} cold Vault-backed credentials.`
        : ''),
    `AgentIdP runs as npm start runs it (node ${START_FLAGS.join(' ')} …/main.js) with NODE_ENV=production, LOG_LEVEL=warn, per-IP rate limits off, lockout on ` +
      '(its default), the default SECRET_CACHE_TTL_SECONDS (300; every pass of a store ends within four minutes of its warm-up), DB_POOL_SIZE 10 (1 on PGlite). The floor ' +
      '(bench/floor-server.js) does one prepared primary-key lookup joined to the agent, an ' +
      'HMAC-SHA256 check and an ES256 signature, with the same pool size' +
      (runs[0].database.kind === 'postgres'
        ? '.'
        : ', on its own copy of the seeded PGlite directory.'),
    ...(runs[0].database.kind === 'postgres'
      ? [
          'Before each server starts, the database is vacuumed, analysed and checkpointed, so no ' +
            'pass pays for the maintenance an earlier server’s writes left; the audit rows AgentIdP ' +
            'writes during a pass are charged to it.',
        ]
      : []),
  ];
}

async function main() {
  const started = Date.now();
  const options = parseOptions();
  // Too few agents for the passes fails here, before any database is created.
  for (const agents of options.agents) dataset.layout(sizesFor(options, agents));
  checkBuild();
  const build = snapshotBuild();
  cleanups.add(() => rmSync(build, { recursive: true, force: true }));
  const host = machine();
  if (options.cpuProf)
    progress(`CPU profiles go to ${options.cpuProf} (they slow the servers down)`);
  const runs = [];
  let section;
  // Written after each agent count, so a long run that fails late keeps what it measured.
  for (const agents of options.agents) {
    runs.push(await benchAgents(options, build, agents));
    const database = runs[0].database;
    const info = {
      title: database.title,
      machine:
        `${host.nproc} × ${host.model} (\`nproc\` ${host.nproc}), Node ${host.node}, ${host.date}, ` +
        `${Math.round((Date.now() - started) / 60_000)} min; one-minute load average ` +
        `${host.loadAverage} at the start, ${os.loadavg()[0].toFixed(2)} at the end.`,
      notes: notes(options, runs, host),
    };
    if (options.quick) continue;
    section = renderSection(database.kind, info, runs);
    await writeResults(options.out, database.kind, section);
  }
  rmSync(build, { recursive: true, force: true });
  if (options.quick) {
    progress('\n--quick: results not saved (the table above is in the progress log)');
    return;
  }
  process.stdout.write(await formatMarkdown(options.out, section));
  progress(`\nwritten to ${relative(process.cwd(), options.out)}`);
}

/** What an interrupted or failed run must still undo: databases to drop, directories to remove. */
const cleanups = new Set();

async function cleanUp() {
  processes.killAll();
  const pending = [...cleanups].map(async (undo) => {
    try {
      await undo();
    } catch {
      // Best effort: the run is ending anyway.
    }
  });
  await Promise.race([Promise.all(pending), wait(10_000)]);
}

const interrupt = (signal) => {
  progress(`\n${signal}: stopping the servers`);
  void cleanUp().then(() => process.exit(130));
};
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);

main().catch((error) => {
  progress(`bench: ${error.stack ?? error}`);
  void cleanUp().then(() => process.exit(1));
});
