/** Scopes of the management API. `admin` implies every other one. */
export enum Scope {
  AgentsRead = 'agents:read',
  AgentsWrite = 'agents:write',
  CredentialsRead = 'credentials:read',
  CredentialsWrite = 'credentials:write',
  TokensIntrospect = 'tokens:introspect',
  AuditRead = 'audit:read',
  Admin = 'admin',
}

export const MANAGEMENT_SCOPES: string[] = Object.values(Scope);
