import {
  badRequest,
  EMPTY,
  errorResult,
  ignoredParametersWarning,
  parseFields,
  unsupportedOperation,
  unsupportedPath,
  type Backend,
  type FieldSchema,
  type LogicalRequest,
  type LogicalResult,
  type Operation,
} from './logical';
import type { TokenStore } from './token-store';

const CREATE_FIELDS: FieldSchema = {
  id: 'string',
  policies: 'commaStringSlice',
  meta: 'kvPairs',
  no_parent: 'bool',
  no_default_policy: 'bool',
  renewable: 'bool',
  ttl: 'durationSecond',
  explicit_max_ttl: 'durationSecond',
  display_name: 'string',
  num_uses: 'int',
  period: 'durationSecond',
  type: 'string',
  entity_alias: 'string',
};

const ROUTES: Record<string, Operation[]> = {
  'lookup-self': ['read', 'update'],
  'renew-self': ['update'],
  'revoke-self': ['update'],
  create: ['update'],
};

/** The routes of the `auth/token/` mount that clients of a KV store use. */
export class TokenBackend implements Backend {
  readonly mountType = 'token';

  constructor(private readonly tokens: TokenStore) {}

  existenceCheck(): undefined {
    return undefined;
  }

  handle(request: LogicalRequest): LogicalResult {
    const operations = ROUTES[request.path];
    if (operations === undefined) return unsupportedPath();
    if (!operations.includes(request.operation)) return unsupportedOperation();
    switch (request.path) {
      case 'lookup-self':
        return { kind: 'response', data: this.tokens.lookupData(request.token) };
      case 'renew-self':
        return this.renewSelf(request);
      case 'revoke-self':
        this.tokens.revoke(request.token.id);
        return EMPTY;
      default:
        return this.create(request);
    }
  }

  private renewSelf(request: LogicalRequest): LogicalResult {
    const fields = parseFields({ increment: 'durationSecond', token: 'string' }, request.data);
    if (!fields.ok) return fields.result;
    const increment = (fields.values.get('increment') as number | undefined) ?? 0;
    const renewed = this.tokens.renew(request.token, increment);
    if (!renewed.ok) return errorResult(renewed.status, renewed.message);
    return {
      kind: 'response',
      data: null,
      auth: this.tokens.authBlock(request.token, renewed.ttl),
      warnings: renewed.warnings.length > 0 ? renewed.warnings : undefined,
    };
  }

  private create(request: LogicalRequest): LogicalResult {
    const fields = parseFields(CREATE_FIELDS, request.data);
    if (!fields.ok) return fields.result;
    const values = fields.values;
    for (const unsupported of ['num_uses', 'period'] as const) {
      if (values.get(unsupported)) {
        return badRequest(`"${unsupported}" is not supported by the Vault test server`);
      }
    }
    const type = values.get('type');
    if (type !== undefined && type !== '' && type !== 'service' && type !== 'default') {
      return badRequest('only service tokens are supported by the Vault test server');
    }
    const parent = request.token;
    const requested = (values.get('policies') as string[] | undefined) ?? parent.policies;
    const isRootParent = parent.policies.includes('root');
    if (
      !isRootParent &&
      !request.acl.hasSudo(`${request.aclPrefix}auth/token/create`) &&
      !requested.every((policy) => policy === 'default' || parent.policies.includes(policy))
    ) {
      return badRequest('child policies must be subset of parent');
    }
    const id = values.get('id') as string | undefined;
    if (id !== undefined && id !== '' && !isRootParent) {
      return badRequest('root or sudo privileges required to specify token id');
    }
    const ttl = values.get('ttl') as number | undefined;
    let created;
    try {
      created = this.tokens.create({
        policies: requested,
        // A TTL of 0 means "the default", not "never expires".
        ttlSeconds: ttl === 0 ? undefined : ttl,
        renewable: (values.get('renewable') as boolean | undefined) ?? true,
        explicitMaxTtlSeconds: values.get('explicit_max_ttl') as number | undefined,
        displayName: values.get('display_name') as string | undefined,
        noDefaultPolicy: values.get('no_default_policy') as boolean | undefined,
        meta: values.get('meta') as Record<string, string> | undefined,
        namespace: parent.namespace,
        id: id === '' ? undefined : id,
      });
    } catch (error) {
      return badRequest((error as Error).message);
    }
    const warnings = [...created.warnings, ...ignoredParametersWarning(fields.ignored)];
    return {
      kind: 'response',
      data: null,
      auth: this.tokens.authBlock(created.token, this.tokens.remainingTtl(created.token)),
      warnings: warnings.length > 0 ? warnings : undefined,
    };
  }
}
