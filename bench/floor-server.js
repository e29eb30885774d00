'use strict';

/**
 * The floor: the least work one client_credentials grant can cost, for comparison only. Plain
 * node:http and a pg pool against AgentIdP's own tables: one lookup of the credential by primary
 * key joined to its agent (a named, prepared statement), an HMAC-SHA256 check against the keyed
 * digest the seeder stored in `secret_hash`, and an ES256 JWT signed with node:crypto, answered in
 * AgentIdP's JSON shape. No framework, validation, audit trail, lockout or logging.
 *
 * Environment: PORT, DATABASE_URL or DATA_DIR (embedded PGlite, opened here as AgentIdP does),
 * EMBEDDED_POSTGRES_MODULE (AgentIdP's compiled embedded-database class), FLOOR_HMAC_KEY (hex),
 * DB_POOL_SIZE, PUBLIC_URL.
 */

const http = require('node:http');
const {
  createHmac,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign,
  timingSafeEqual,
} = require('node:crypto');
const { crc32 } = require('node:zlib');
const { Pool } = require('pg');

const LOOKUP = {
  name: 'floor-credential-lookup',
  text: `SELECT c.id, c.agent_id, c.secret_hash, c.secret_version, c.expires_at,
                a.status AS agent_status, a.allowed_scopes
           FROM credentials c
           JOIN agents a ON a.id = c.agent_id
          WHERE c.id = $1`,
};
const TTL_SECONDS = 3600;
const MAX_BODY = 65536;
const SECRET_LENGTH = 75;

const hmacKey = Buffer.from(process.env.FLOOR_HMAC_KEY ?? '', 'hex');
const issuer = process.env.PUBLIC_URL ?? `http://localhost:${process.env.PORT}`;
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const kid = randomBytes(16).toString('base64url');
const jwtHeader = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid })).toString(
  'base64url',
);

function credentialIdFromSecret(secret) {
  if (secret.length !== SECRET_LENGTH || !secret.startsWith('aidp_')) return null;
  const body = Buffer.from(secret.slice(5), 'base64url');
  if (body.length !== 52 || crc32(body.subarray(0, 48)) >>> 0 !== body.readUInt32BE(48)) {
    return null;
  }
  const hex = body.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function signJwt(claims) {
  const input = `${jwtHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = sign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

function send(res, status, body) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    pragma: 'no-cache',
  });
  res.end(payload);
}

const invalidClient = {
  error: 'invalid_client',
  error_description: 'Client authentication failed',
};

async function grant(pool, body) {
  const params = new URLSearchParams(body);
  if (params.get('grant_type') !== 'client_credentials') {
    return [400, { error: 'unsupported_grant_type' }];
  }
  const clientId = params.get('client_id') ?? '';
  const secret = params.get('client_secret') ?? '';
  const credentialId = credentialIdFromSecret(secret);
  if (!credentialId) return [401, invalidClient];
  const { rows } = await pool.query({ ...LOOKUP, values: [credentialId] });
  const row = rows[0];
  if (!row || row.agent_id !== clientId.toLowerCase() || !row.secret_hash) {
    return [401, invalidClient];
  }
  if (row.expires_at && row.expires_at.getTime() <= Date.now()) return [401, invalidClient];
  const stored = Buffer.from(row.secret_hash, 'hex');
  const presented = createHmac('sha256', hmacKey)
    .update(`${row.id}:${row.secret_version}:0`)
    .update('\0')
    .update(secret)
    .digest();
  if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) {
    return [401, invalidClient];
  }
  if (row.agent_status !== 'active') return [400, { error: 'unauthorized_client' }];
  const now = Math.floor(Date.now() / 1000);
  const scope = row.allowed_scopes.join(' ');
  const token = signJwt({
    iss: issuer,
    sub: row.agent_id,
    aud: issuer,
    client_id: row.agent_id,
    ...(scope ? { scope } : {}),
    iat: now,
    exp: now + TTL_SECONDS,
    jti: randomUUID(),
    cid: row.id,
    sv: row.secret_version,
  });
  return [
    200,
    {
      access_token: token,
      token_type: 'Bearer',
      expires_in: TTL_SECONDS,
      ...(scope ? { scope } : {}),
    },
  ];
}

async function main() {
  let embedded;
  let url = process.env.DATABASE_URL;
  if (!url) {
    const { Logger } = require('@nestjs/common');
    Logger.overrideLogger(['error', 'warn']);
    const { EmbeddedPostgres } = require(process.env.EMBEDDED_POSTGRES_MODULE);
    embedded = new EmbeddedPostgres(process.env.DATA_DIR);
    url = await embedded.start();
  }
  const pool = new Pool({
    connectionString: url,
    // PGlite is a single session, as in AgentIdP, and like AgentIdP's the one connection stays
    // open: the session outlives a connection, so a new one would find the statement it prepares
    // already there (42P05). The floor idles while the stores' passes run.
    max: embedded ? 1 : Number(process.env.DB_POOL_SIZE ?? 10),
    ...(embedded ? { idleTimeoutMillis: 0 } : {}),
    application_name: 'agentidp-bench-floor',
  });
  if (embedded) pool.on('connect', (client) => void client.query('DEALLOCATE ALL'));
  await pool.query('SELECT 1');

  const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    if (req.method === 'GET' && req.url === '/health/ready')
      return send(res, 200, { status: 'ok' });
    if (req.method !== 'POST' || req.url !== '/api/v1/token') return send(res, 404, {});
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      grant(pool, Buffer.concat(chunks).toString('latin1')).then(
        ([status, body]) => send(res, status, body),
        (error) => {
          process.stderr.write(`floor: ${error.message}\n`);
          send(res, 500, { error: 'server_error' });
        },
      );
    });
  });
  server.listen(Number(process.env.PORT), '127.0.0.1');

  const shutdown = () => {
    server.close();
    server.closeIdleConnections();
    pool
      .end()
      .then(() => embedded?.stop())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error) => {
  process.stderr.write(`floor: ${error.stack ?? error}\n`);
  process.exit(1);
});
