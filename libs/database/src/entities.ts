import { Agent } from '@agentidp/agents';
import { AuditEvent } from '@agentidp/audit';
import { Credential } from '@agentidp/credentials';
import { RevokedToken, SigningKey } from '@agentidp/token';
import { ServerState } from './server-state.entity';

/** Every entity, listed explicitly (globs break in bundled builds). */
export const entities = [Agent, Credential, SigningKey, RevokedToken, AuditEvent, ServerState];
