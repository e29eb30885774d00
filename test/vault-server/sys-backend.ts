import {
  badRequest,
  EMPTY,
  parseFields,
  respond,
  unsupportedOperation,
  unsupportedPath,
  type Backend,
  type LogicalRequest,
  type LogicalResult,
} from './logical';
import { PolicyParseError, type PolicyStore } from './policy';

const POLICY_PATH = /^policies\/acl\/(.+)$/s;

/**
 * Vault accepts a policy either as text or base64-encoded; text that happens to be valid base64
 * is rare enough that Vault decodes whenever decoding succeeds, and so does this.
 */
function decodePolicyText(raw: string): string {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw) || raw.length % 4 !== 0) return raw;
  return Buffer.from(raw, 'base64').toString('utf8');
}

/**
 * The authenticated part of the `sys/` mount this server offers: ACL policy management and
 * `sys/capabilities-self`. `sys/health` and `sys/seal-status` are unauthenticated and handled
 * before a request reaches any backend.
 */
export class SysBackend implements Backend {
  readonly mountType = 'system';

  constructor(private readonly policies: PolicyStore) {}

  existenceCheck(path: string): boolean | undefined {
    const match = POLICY_PATH.exec(path);
    return match ? this.policies.get(match[1]) !== undefined : undefined;
  }

  handle(request: LogicalRequest): LogicalResult {
    if (request.path === 'policies/acl/') {
      if (request.operation !== 'list') return unsupportedOperation();
      return respond({ keys: this.policies.names() });
    }
    const policy = POLICY_PATH.exec(request.path);
    if (policy) return this.policy(request, policy[1]);
    if (request.path === 'capabilities-self') {
      if (request.operation !== 'update') return unsupportedOperation();
      return this.capabilitiesSelf(request);
    }
    return unsupportedPath();
  }

  private policy(request: LogicalRequest, name: string): LogicalResult {
    switch (request.operation) {
      case 'read': {
        const stored = this.policies.get(name);
        if (stored === undefined) return EMPTY;
        return respond({ name: stored.name, policy: stored.text });
      }
      case 'create':
      case 'update': {
        const fields = parseFields({ name: 'string', policy: 'string' }, request.data);
        if (!fields.ok) return fields.result;
        const text = fields.values.get('policy') as string | undefined;
        if (text === undefined || text === '') {
          return badRequest("'policy' parameter not supplied or empty");
        }
        try {
          this.policies.write(name, decodePolicyText(text));
        } catch (error) {
          const message = (error as Error).message;
          return badRequest(
            error instanceof PolicyParseError ? `failed to parse policy: ${message}` : message,
          );
        }
        return EMPTY;
      }
      case 'delete':
        try {
          this.policies.delete(name);
        } catch (error) {
          return badRequest((error as Error).message);
        }
        return EMPTY;
      case 'list':
      case 'patch':
        return unsupportedOperation();
    }
  }

  private capabilitiesSelf(request: LogicalRequest): LogicalResult {
    const fields = parseFields(
      { path: 'commaStringSlice', paths: 'commaStringSlice', token: 'string' },
      request.data,
    );
    if (!fields.ok) return fields.result;
    const paths = [
      ...((fields.values.get('paths') as string[] | undefined) ?? []),
      ...((fields.values.get('path') as string[] | undefined) ?? []),
    ];
    if (paths.length === 0) return badRequest('missing paths');
    const data: Record<string, string[]> = {};
    for (const path of paths) {
      data[path] = request.acl.capabilities(`${request.aclPrefix}${path.replace(/^\//, '')}`);
    }
    // A single path is also reported under "capabilities", for older clients.
    if (paths.length === 1) data.capabilities = data[paths[0]];
    return respond(data);
  }
}
