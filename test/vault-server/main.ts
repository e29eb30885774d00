import { VaultTestServer } from './vault-test-server';

/**
 * Starts a Vault test server configured from the environment, like `vault server -dev`:
 * - `VAULT_TEST_PORT` (default 8200) and `VAULT_TEST_HOST` (default 127.0.0.1);
 * - `VAULT_TEST_ROOT_TOKEN` (default: random), the counterpart of `VAULT_DEV_ROOT_TOKEN_ID`;
 * - `VAULT_TEST_KV_MOUNTS`, comma-separated KV version 2 mounts (default `secret`).
 */
export async function startFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<VaultTestServer> {
  const port = env.VAULT_TEST_PORT === undefined ? 8200 : Number(env.VAULT_TEST_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`VAULT_TEST_PORT must be a port number, got "${env.VAULT_TEST_PORT}"`);
  }
  const kvMounts = env.VAULT_TEST_KV_MOUNTS?.split(',')
    .map((mount) => mount.trim())
    .filter((mount) => mount !== '');
  return VaultTestServer.start({
    port,
    host: env.VAULT_TEST_HOST ?? '127.0.0.1',
    rootToken: env.VAULT_TEST_ROOT_TOKEN || undefined,
    kvMounts: kvMounts && kvMounts.length > 0 ? kvMounts : undefined,
  });
}

async function main(): Promise<void> {
  const server = await startFromEnv();
  process.stdout.write(
    `Vault test server listening on ${server.url}\n` +
      `VAULT_ADDR=${server.url}\nVAULT_TOKEN=${server.rootToken}\n`,
  );
  const shutdown = (): void => {
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
