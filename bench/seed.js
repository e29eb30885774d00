'use strict';

/**
 * Seeds agents and credentials straight into a migrated AgentIdP database, in multi-row batches:
 * creating 10,000 agents through the API at bcrypt cost 12 would take longer than the benchmark.
 * Run by run.js as its own process (settings in BENCH_SEED as JSON); with the embedded database it
 * opens the PGlite directory itself, so the server must be stopped meanwhile.
 *
 * Secrets: warm-pass credentials get their own bcrypt hash at cost 4 (a warm request never runs
 * bcrypt, so the cost does not show), cold-pass ones one at the production default (12), Vault
 * ones no hash. Rows no pass presents share a single cost-4 hash of a discarded secret: they are
 * there to give the tables and indexes their size, and hashing a million secrets would take hours.
 */

const { randomBytes } = require('node:crypto');
const bcrypt = require('bcrypt');
const { Client } = require('pg');
const dataset = require('./lib/dataset');

const BATCH_ROWS = 5000;
const WARM_COST = 4;
const COLD_COST = 12;

async function main() {
  const settings = JSON.parse(process.env.BENCH_SEED ?? '{}');
  const seedKey = Buffer.from(settings.seedKey, 'hex');
  const ranges = dataset.layout(settings);
  const started = Date.now();

  let embedded;
  let url = settings.databaseUrl;
  if (!url) {
    const { Logger } = require('@nestjs/common');
    Logger.overrideLogger(['error', 'warn']);
    const { EmbeddedPostgres } = require(settings.embeddedPostgresModule);
    embedded = new EmbeddedPostgres(settings.dataDir);
    url = await embedded.start();
  }
  const client = new Client({ connectionString: url, application_name: 'agentidp-bench-seed' });
  await client.connect();
  try {
    const existing = await client.query('SELECT count(*)::int AS n FROM credentials');
    if (existing.rows[0].n > 1) throw new Error('the database already holds credentials');

    const hashes = await hashSecrets(seedKey, ranges);
    const floorKey = dataset.floorKey(seedKey);
    let inserted = 0;
    for (let start = 0; start < settings.agents; start += BATCH_ROWS) {
      const end = Math.min(start + BATCH_ROWS, settings.agents);
      await insertBatch(client, seedKey, ranges, hashes, floorKey, start, end);
      inserted = end;
      if (
        settings.agents >= 100_000 &&
        (inserted % 100_000 === 0 || inserted === settings.agents)
      ) {
        log(`seeded ${inserted.toLocaleString('en-US')} agents`);
      }
    }
    // Fresh statistics and visibility map, as a long-running database would have.
    await client.query('VACUUM ANALYZE agents');
    await client.query('VACUUM ANALYZE credentials');
    log(
      `seeded ${settings.agents.toLocaleString('en-US')} agents in ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await client.end();
    await embedded?.stop();
  }
}

/** bcrypt's async API runs on libuv's pool, so these hash in parallel on every core. */
async function hashSecrets(seedKey, ranges) {
  const started = Date.now();
  const hashes = new Map();
  const jobs = [];
  const add = (range, cost) => {
    for (const row of dataset.rowsOf(seedKey, range)) {
      jobs.push(bcrypt.hash(row.secret, cost).then((hash) => hashes.set(row.index, hash)));
    }
  };
  add(ranges.bcryptWarm, WARM_COST);
  add(ranges.introspector, WARM_COST);
  add(ranges.bcryptCold, COLD_COST);
  const shared = bcrypt.hash(`aidp_${randomBytes(52).toString('base64url')}`, WARM_COST);
  await Promise.all(jobs);
  const coldCount = ranges.bcryptCold.end - ranges.bcryptCold.start;
  log(
    `hashed ${hashes.size} secrets (${coldCount} at cost ${COLD_COST}, the rest at cost ` +
      `${WARM_COST}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return { byIndex: hashes, shared: await shared };
}

async function insertBatch(client, seedKey, ranges, hashes, floorKey, start, end) {
  const agents = { id: [], name: [], scopes: [] };
  const credentials = { id: [], agentId: [], hash: [], vaultPath: [], vaultVersion: [] };
  for (let i = start; i < end; i += 1) {
    const row = dataset.row(seedKey, i);
    const role = dataset.roleOf(ranges, i);
    const scopes = role === 'introspector' ? dataset.INTROSPECTOR_SCOPES : dataset.AGENT_SCOPES;
    agents.id.push(row.agentId);
    agents.name.push(`bench-agent-${i}`);
    agents.scopes.push(`{${scopes.join(',')}}`);
    credentials.id.push(row.credentialId);
    credentials.agentId.push(row.agentId);
    let hash = null;
    let path = null;
    let version = null;
    if (role === 'floor') {
      hash = dataset.floorDigest(floorKey, row.credentialId, row.secret).toString('hex');
    } else if (role === 'vaultWarm' || role === 'vaultCold') {
      path = dataset.vaultPath(row.agentId, row.credentialId);
      version = 1;
    } else {
      hash = hashes.byIndex.get(i) ?? hashes.shared;
    }
    credentials.hash.push(hash);
    credentials.vaultPath.push(path);
    credentials.vaultVersion.push(version);
  }
  await client.query('BEGIN');
  await client.query(
    `INSERT INTO agents (id, name, owner, allowed_scopes)
     SELECT id, name, 'bench@example.org', scopes::text[]
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(id, name, scopes)`,
    [agents.id, agents.name, agents.scopes],
  );
  await client.query(
    `INSERT INTO credentials (id, agent_id, secret_hash, vault_path, vault_version)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[])`,
    [
      credentials.id,
      credentials.agentId,
      credentials.hash,
      credentials.vaultPath,
      credentials.vaultVersion,
    ],
  );
  await client.query('COMMIT');
}

function log(message) {
  process.stderr.write(`  ${message}\n`);
}

main().catch((error) => {
  process.stderr.write(`seed: ${error.stack ?? error}\n`);
  process.exit(1);
});
