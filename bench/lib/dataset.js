'use strict';

const { createHmac } = require('node:crypto');
const { crc32 } = require('node:zlib');

/**
 * The seeded data set, derived from one random key so that the seeder (a separate process) and the
 * runner agree on every id and secret without passing a million of them around.
 *
 * Row `i` is agent `i` with exactly one credential. Rows are handed out to the passes in fixed
 * ranges (see `layout`); ids are pseudo-random, so every range is spread over the whole index.
 */

const SECRET_PREFIX = 'aidp_';
const VAULT_MOUNT = 'secret';
const AGENT_SCOPES = ['tools:search', 'tools:fetch'];
const INTROSPECTOR_SCOPES = ['tokens:introspect'];

function formatUuidV4(bytes) {
  const b = Buffer.from(bytes);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Same layout as `generateClientSecret` in libs/credentials: id, 32 random bytes, CRC-32. */
function clientSecret(credentialId, random32) {
  const payload = Buffer.concat([Buffer.from(credentialId.replace(/-/g, ''), 'hex'), random32]);
  const checksum = Buffer.alloc(4);
  checksum.writeUInt32BE(crc32(payload) >>> 0);
  return SECRET_PREFIX + Buffer.concat([payload, checksum]).toString('base64url');
}

/** One HMAC-SHA512 per row: 16 bytes of agent id, 16 of credential id, 32 of secret. */
function row(seedKey, index) {
  const digest = createHmac('sha512', seedKey).update(`row:${index}`).digest();
  const agentId = formatUuidV4(digest.subarray(0, 16));
  const credentialId = formatUuidV4(digest.subarray(16, 32));
  return { index, agentId, credentialId, secret: clientSecret(credentialId, digest.subarray(32)) };
}

function vaultPath(agentId, credentialId) {
  return `${VAULT_MOUNT}/data/agentidp/agents/${agentId}/credentials/${credentialId}`;
}

/** The floor server's HMAC key: separate from the seed key, shared with the seeder. */
function floorKey(seedKey) {
  return createHmac('sha256', seedKey).update('floor-key').digest();
}

/** The keyed digest the floor stores and checks: bound to the credential version, like the app's cache. */
function floorDigest(key, credentialId, secret) {
  return createHmac('sha256', key)
    .update(`${credentialId}:1:0`)
    .update('\0')
    .update(secret)
    .digest();
}

/**
 * Which rows each pass uses. Ranges are disjoint so that a cold pass really meets credentials no
 * earlier pass has touched, and the floor's rows (which hold an HMAC digest, not a bcrypt hash) are
 * never presented to AgentIdP.
 */
function layout(options) {
  const sizes = [
    ['floor', options.credentials],
    ['bcryptWarm', options.credentials],
    ['bcryptCold', options.cold],
    ['vaultWarm', options.vault ? options.credentials : 0],
    ['vaultCold', options.vault ? options.vaultCold : 0],
    ['introspector', 1],
  ];
  const ranges = {};
  let start = 0;
  for (const [name, size] of sizes) {
    ranges[name] = { start, end: start + size };
    start += size;
  }
  if (start > options.agents) {
    throw new Error(
      `${options.agents} agents are too few: the passes use ${start} credentials ` +
        '(raise --agents or lower --credentials, --cold, --vault-cold)',
    );
  }
  ranges.bulk = { start, end: options.agents };
  return ranges;
}

function rowsOf(seedKey, range) {
  const rows = [];
  for (let i = range.start; i < range.end; i += 1) rows.push(row(seedKey, i));
  return rows;
}

function roleOf(ranges, index) {
  for (const [name, range] of Object.entries(ranges)) {
    if (index >= range.start && index < range.end) return name;
  }
  throw new Error(`row ${index} is outside the data set`);
}

module.exports = {
  AGENT_SCOPES,
  INTROSPECTOR_SCOPES,
  VAULT_MOUNT,
  floorDigest,
  floorKey,
  layout,
  roleOf,
  row,
  rowsOf,
  vaultPath,
};
