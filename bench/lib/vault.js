'use strict';

const { execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const http = require('node:http');
const { join } = require('node:path');
const { freePort, startProcess, stopProcess, waitReady } = require('./processes');

/** The policy the README's Vault runbook gives AgentIdP. */
const POLICY = `
path "secret/data/agentidp/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "secret/metadata/agentidp/*" {
  capabilities = ["delete"]
}
`;

/**
 * The repository's Vault test server (test/vault-server), compiled as its README shows and run as
 * its own process, so its CPU is neither the load generator's nor AgentIdP's.
 */
async function startVault({ root, workDir }) {
  const outDir = join(workDir, 'vault-test-server');
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/typescript/bin/tsc'),
      '--ignoreConfig',
      '--outDir',
      outDir,
      '--module',
      'commonjs',
      '--target',
      'es2023',
      '--types',
      'node',
      '--skipLibCheck',
      join(root, 'test/vault-server/main.ts'),
    ],
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const port = await freePort();
  const rootToken = `hvs.bench-${randomBytes(12).toString('hex')}`;
  const proc = startProcess('Vault test server', [join(outDir, 'main.js')], {
    cwd: workDir,
    logFile: join(workDir, 'vault.log'),
    env: {
      PATH: process.env.PATH,
      VAULT_TEST_PORT: String(port),
      VAULT_TEST_HOST: '127.0.0.1',
      VAULT_TEST_ROOT_TOKEN: rootToken,
    },
  });
  const addr = `http://127.0.0.1:${port}`;
  await waitReady(proc, `${addr}/v1/sys/health`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const call = (method, path, body, token = rootToken) =>
    vaultRequest(agent, addr, token, method, path, body);

  await call('PUT', 'sys/policies/acl/agentidp', { policy: POLICY });
  const created = await call('POST', 'auth/token/create', {
    policies: ['agentidp'],
    ttl: '768h',
    renewable: true,
    display_name: 'agentidp-bench',
  });
  return {
    addr,
    proc,
    token: created.auth.client_token,
    /** Writes each row's secret as version 1 of its KV v2 key, `concurrency` at a time. */
    async writeSecrets(rows, concurrency = 16) {
      let next = 0;
      const worker = async () => {
        while (next < rows.length) {
          const row = rows[next++];
          const path = `secret/data/agentidp/agents/${row.agentId}/credentials/${row.credentialId}`;
          const written = await call('POST', path, {
            data: { clientSecret: row.secret },
            options: { cas: 0 },
          });
          if (written.data.version !== 1)
            throw new Error(`${path}: version ${written.data.version}`);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    },
    async stop() {
      agent.destroy();
      await stopProcess(proc);
    },
  };
}

function vaultRequest(agent, addr, token, method, path, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${addr}/v1/${path}`,
      {
        method,
        agent,
        headers: {
          'x-vault-token': token,
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200 && res.statusCode !== 204) {
            reject(new Error(`Vault ${method} ${path}: ${res.statusCode} ${text}`));
            return;
          }
          resolve(text ? JSON.parse(text) : {});
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

module.exports = { startVault };
