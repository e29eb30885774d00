import { CreateAgents1700000000001 } from './001-create-agents';
import { CreateCredentials1700000000002 } from './002-create-credentials';
import { CreateSigningKeys1700000000003 } from './003-create-signing-keys';
import { CreateRevokedTokensAndAuditEvents1700000000004 } from './004-create-revoked-tokens-and-audit-events';
import { AddCredentialsVaultPath1700000000005 } from './005-add-credentials-vault-path';
import { AddCredentialsVaultVersion1700000000006 } from './006-add-credentials-vault-version';
import { CreateAbuseCounters1700000000007 } from './007-create-abuse-counters';
import { AddAgentsTokenGeneration1700000000008 } from './008-add-agents-token-generation';
import { AddAgentsAuthFailuresUntil1700000000009 } from './009-add-agents-auth-failures-until';

/** Every migration, in order. Listed explicitly: globs break in bundled builds. */
export const migrations = [
  CreateAgents1700000000001,
  CreateCredentials1700000000002,
  CreateSigningKeys1700000000003,
  CreateRevokedTokensAndAuditEvents1700000000004,
  AddCredentialsVaultPath1700000000005,
  AddCredentialsVaultVersion1700000000006,
  CreateAbuseCounters1700000000007,
  AddAgentsTokenGeneration1700000000008,
  AddAgentsAuthFailuresUntil1700000000009,
];
