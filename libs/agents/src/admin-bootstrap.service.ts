import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AuditEventType, AuditOutcome, AuditService } from '@agentidp/audit';
import { Scope } from '@agentidp/auth';
import { AppConfig } from '@agentidp/config';
import { CredentialsService } from '@agentidp/credentials';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AgentsService } from './agents.service';

export const BOOTSTRAP_FILE = 'bootstrap-admin.json';
const ADMIN_NAME = 'bootstrap-admin';

/**
 * Makes sure an operator can get in. With BOOTSTRAP_ADMIN_CLIENT_ID/SECRET the admin agent and its
 * credential are created (or brought in line) at every start, idempotently. Otherwise the first
 * replica ever to start creates an admin with a fresh secret and prints it once.
 */
@Injectable()
export class AdminBootstrapService implements OnApplicationBootstrap {
  private readonly logger = new Logger(AdminBootstrapService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly agents: AgentsService,
    private readonly credentials: CredentialsService,
    private readonly audit: AuditService,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { clientId, clientSecret } = this.config.bootstrap;
    if (clientId && clientSecret) {
      await this.withRetry(() => this.ensureConfiguredAdmin(clientId, clientSecret));
      return;
    }
    await this.bootstrapOnce();
  }

  private async ensureConfiguredAdmin(agentId: string, secret: string): Promise<void> {
    if (!(await this.agents.exists(agentId))) {
      await this.agents.create({ name: ADMIN_NAME, allowedScopes: [Scope.Admin] }, { id: agentId });
    }
    const outcome = await this.credentials.ensureBootstrapCredential(agentId, secret);
    if (outcome !== 'unchanged') {
      this.logger.log(`Bootstrap admin credential ${outcome} for client ${agentId}`);
      this.audit.record({
        type: AuditEventType.AdminBootstrapped,
        outcome: AuditOutcome.Success,
        targetType: 'agent',
        targetId: agentId,
        details: { credential: outcome },
      });
    }
  }

  private async bootstrapOnce(): Promise<void> {
    const agentId = randomUUID();
    // Exactly one replica, ever, wins this insert.
    const won = await this.dataSource.query<unknown[]>(
      `INSERT INTO server_state (key, value) VALUES ('admin_bootstrap', $1)
       ON CONFLICT (key) DO NOTHING RETURNING key`,
      [JSON.stringify({ agentId })],
    );
    if (won.length === 0) return;

    await this.agents.create({ name: ADMIN_NAME, allowedScopes: [Scope.Admin] }, { id: agentId });
    const credential = await this.credentials.issueForAgent(agentId);
    this.audit.record({
      type: AuditEventType.AdminBootstrapped,
      outcome: AuditOutcome.Success,
      targetType: 'agent',
      targetId: agentId,
    });
    const record = {
      clientId: credential.clientId,
      clientSecret: credential.clientSecret,
      credentialId: credential.credentialId,
      tokenEndpoint: `${this.config.http.publicUrl}/api/v1/token`,
    };
    // Printed once, on stdout only (never through the logger): the operator's way in.
    process.stdout.write(
      `\n=== AgentIdP bootstrap admin (shown once; store it now) ===\n` +
        `client_id:     ${record.clientId}\nclient_secret: ${record.clientSecret}\n` +
        `==========================================================\n\n`,
    );
    if (this.config.embeddedDatabase) {
      const dir = this.config.database.dataDir;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, BOOTSTRAP_FILE), `${JSON.stringify(record, null, 2)}\n`, {
        mode: 0o600,
      });
      this.logger.log(
        `Bootstrap admin credential also written to ${join(dir, BOOTSTRAP_FILE)} (mode 0600)`,
      );
    }
  }

  /** Replicas starting together race on the same rows; the loser simply looks again. */
  private async withRetry(task: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await task();
        return;
      } catch (error) {
        if (attempt >= 3) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }
}
