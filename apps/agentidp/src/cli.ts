import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AgentsService, BOOTSTRAP_FILE } from '@agentidp/agents';
import { AuditQueryService, AuditService } from '@agentidp/audit';
import { Scope } from '@agentidp/auth';
import { AppConfig, ConfigValidationError, loadDotEnv } from '@agentidp/config';
import { CredentialsService } from '@agentidp/credentials';
import { SigningKeysService } from '@agentidp/token';
import { VaultTokenManager } from '@agentidp/vault';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module';

const HELP = `AgentIdP operator CLI

Usage: npm run cli -- <command> [options]

Commands:
  create-admin-credential [--agent-id <uuid>]
        Create a new admin agent with a fresh credential (or, with --agent-id, a new credential
        for that existing agent) and print the client id and secret once.
  rotate-signing-key [--compromised]
        Publish a new ES256 key now; it signs 330 s later, once every replica and every cached JWKS
        has it. The old key signs until then and stays in the JWKS until its tokens expire.
        --compromised (a leaked key): the new key signs at once (other replicas within 30 s) and
        every older key leaves the JWKS now, so the tokens they signed stop verifying.
  verify-audit-chain
        Recompute the audit trail's hash chain; exit 1 and name the first broken event if altered.
  credential-storage
        Count credentials by where their secret lives (bcrypt hash or Vault).
  vault-token
        Show the Vault token's validity and remaining TTL (Vault mode only).

Options:
  -h, --help    Show this help.

It reads the same environment (and .env) as the server. With the embedded database, stop the
server first: one process at a time can open ${'DATA_DIR'}.
Bootstrap credentials of the embedded database are also kept in DATA_DIR/${BOOTSTRAP_FILE}.
`;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

type Context = Awaited<ReturnType<typeof NestFactory.createApplicationContext>>;
type Command = (app: Context, options: Record<string, unknown>, io: CliIo) => Promise<number>;

const commands: Record<string, Command> = {
  'create-admin-credential': async (app, options, io) => {
    const agents = app.get(AgentsService);
    const credentials = app.get(CredentialsService);
    let agentId = typeof options['agent-id'] === 'string' ? options['agent-id'] : undefined;
    if (agentId) {
      await agents.get(agentId);
    } else {
      agentId = (await agents.create({ name: 'admin', allowedScopes: [Scope.Admin] })).id;
    }
    const credential = await credentials.issueForAgent(agentId);
    print(io, {
      clientId: credential.clientId,
      clientSecret: credential.clientSecret,
      credentialId: credential.credentialId,
    });
    return 0;
  },
  'rotate-signing-key': async (app, options, io) => {
    const compromised = options.compromised === true;
    print(io, { kid: await app.get(SigningKeysService).rotate({ compromised }), compromised });
    return 0;
  },
  'verify-audit-chain': async (app, _options, io) => {
    await app.get(AuditService).flush();
    const result = await app.get(AuditQueryService).verifyChain();
    print(io, result);
    return result.valid ? 0 : 1;
  },
  'credential-storage': async (app, _options, io) => {
    const rows = await app.get(DataSource).query<{ storage: string; count: string }[]>(
      `SELECT CASE WHEN vault_path IS NULL THEN 'bcrypt' ELSE 'vault' END AS storage, count(*)::text AS count
           FROM credentials GROUP BY 1`,
    );
    const counts = { bcrypt: 0, vault: 0 };
    for (const row of rows) counts[row.storage as 'bcrypt' | 'vault'] = Number(row.count);
    print(io, counts);
    return 0;
  },
  'vault-token': async (app, _options, io) => {
    const config = app.get(AppConfig);
    if (!config.vault) {
      io.err('Vault is not configured (VAULT_ADDR is unset)\n');
      return 1;
    }
    const state = await app.get(VaultTokenManager).check();
    print(io, { valid: state.valid, ttlSeconds: state.ttlSeconds, renewable: state.renewable });
    return state.valid ? 0 : 1;
  },
};

function print(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** Runs one CLI command; returns the exit code. `env` is the environment to configure from. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      help: { type: 'boolean', short: 'h' },
      'agent-id': { type: 'string' },
      compromised: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  const name = positionals[0];
  if (values.help || !name) {
    io.out(HELP);
    return values.help ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    io.err(`Unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  let config: AppConfig;
  try {
    config = AppConfig.fromEnv(env);
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      io.err(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), {
    logger: ['error', 'warn'],
    abortOnError: false,
  });
  try {
    return await command(app, values, io);
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  loadDotEnv();
  runCli(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  })
    .then((code) => process.exit(code))
    .catch((error: unknown) => {
      process.stderr.write(`Error: ${(error as Error).message}\n`);
      process.exit(1);
    });
}
