import { isJsonObject } from './go-compat';
import type { Operation } from './logical';

export const CAPABILITIES = [
  'create',
  'read',
  'update',
  'delete',
  'list',
  'sudo',
  'deny',
  'patch',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface PathRule {
  /** The path as written in the policy, leading `/` removed. */
  path: string;
  capabilities: Set<Capability>;
}

export class PolicyParseError extends Error {}

/** Vault's built-in `default` policy (1.15), attached to every token unless opted out. */
export const DEFAULT_POLICY = `
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}

# Allow a token to look up its resultant ACL from all policies. This is useful
# for UIs. It is an internal path because the format may change at any time
# based on how the internal ACL features and capabilities change.
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body; old path for
# old clients, new path for newer
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties. This requires knowing the lease ID ahead
# of time and does not divulge any sensitive information.
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a given
# response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token. This is a convenience to
# avoid client token swapping since this is also part of the response wrapping
# policy.
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow checking the status of a Control Group request if the user has the
# accessor
path "sys/control-group/request" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
`;

/** Path attributes Vault supports but this server does not; accepting them silently would lie. */
const UNSUPPORTED_ATTRIBUTES = new Set([
  'allowed_parameters',
  'denied_parameters',
  'required_parameters',
  'min_wrapping_ttl',
  'max_wrapping_ttl',
  'control_group',
  'mfa_methods',
  'subscribe_event_types',
]);

const LEGACY_POLICIES: Record<string, Capability[]> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};

type Token =
  | { type: 'string'; value: string; line: number }
  | { type: 'word'; value: string; line: number }
  | { type: 'punct'; value: string; line: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char === '\n') {
      line++;
      i++;
    } else if (/\s/.test(char)) {
      i++;
    } else if (char === '#' || text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new PolicyParseError(`unterminated comment on line ${line}`);
      line += text.slice(i, end).split('\n').length - 1;
      i = end + 2;
    } else if (char === '"') {
      let value = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\n') throw new PolicyParseError(`unterminated string on line ${line}`);
        if (text[i] === '\\' && i + 1 < text.length) {
          const escaped = text[i + 1];
          value += escaped === 'n' ? '\n' : escaped === 't' ? '\t' : escaped;
          i += 2;
        } else {
          value += text[i++];
        }
      }
      if (i >= text.length) throw new PolicyParseError(`unterminated string on line ${line}`);
      i++;
      tokens.push({ type: 'string', value, line });
    } else if ('{}[]=,'.includes(char)) {
      tokens.push({ type: 'punct', value: char, line });
      i++;
    } else {
      const match = /^[A-Za-z0-9_.\-+]+/.exec(text.slice(i));
      if (match === null) throw new PolicyParseError(`illegal char "${char}" on line ${line}`);
      tokens.push({ type: 'word', value: match[0], line });
      i += match[0].length;
    }
  }
  return tokens;
}

/** A recursive-descent reader for the HCL subset used by ACL policies. */
class HclReader {
  private position = 0;

  constructor(private readonly tokens: Token[]) {}

  done(): boolean {
    return this.position >= this.tokens.length;
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private next(what: string): Token {
    const token = this.tokens[this.position++];
    if (token === undefined)
      throw new PolicyParseError(`unexpected end of policy, expected ${what}`);
    return token;
  }

  private expectPunct(value: string): void {
    const token = this.next(`"${value}"`);
    if (token.type !== 'punct' || token.value !== value) {
      throw new PolicyParseError(`expected "${value}" on line ${token.line}, got "${token.value}"`);
    }
  }

  private skipPunct(value: string): boolean {
    const token = this.peek();
    if (token?.type === 'punct' && token.value === value) {
      this.position++;
      return true;
    }
    return false;
  }

  /** Reads `path "x" { ... }` and returns the path with its attributes. */
  readPathBlock(): { path: string; attributes: Map<string, unknown>; line: number } {
    const keyword = this.next('"path"');
    if (keyword.type === 'punct') {
      throw new PolicyParseError(`unexpected "${keyword.value}" on line ${keyword.line}`);
    }
    if (keyword.value !== 'path') {
      throw new PolicyParseError(`invalid key "${keyword.value}" on line ${keyword.line}`);
    }
    const path = this.next('a path');
    if (path.type !== 'string') {
      throw new PolicyParseError(`expected a quoted path on line ${path.line}`);
    }
    this.skipPunct('=');
    return { path: path.value, attributes: this.readObject(), line: path.line };
  }

  private readObject(): Map<string, unknown> {
    this.expectPunct('{');
    const attributes = new Map<string, unknown>();
    while (!this.skipPunct('}')) {
      const key = this.next('an attribute name');
      if (key.type === 'punct') {
        throw new PolicyParseError(`unexpected "${key.value}" on line ${key.line}`);
      }
      if (!this.skipPunct('=') && this.peek()?.value !== '{') {
        throw new PolicyParseError(`expected "=" after "${key.value}" on line ${key.line}`);
      }
      attributes.set(key.value, this.readValue());
      this.skipPunct(',');
    }
    return attributes;
  }

  private readValue(): unknown {
    const token = this.peek();
    if (token?.type === 'punct' && token.value === '{') return this.readObject();
    if (token?.type === 'punct' && token.value === '[') {
      this.position++;
      const items: unknown[] = [];
      while (!this.skipPunct(']')) {
        items.push(this.readValue());
        this.skipPunct(',');
      }
      return items;
    }
    const value = this.next('a value');
    if (value.type === 'punct') {
      throw new PolicyParseError(`unexpected "${value.value}" on line ${value.line}`);
    }
    if (value.type === 'word' && (value.value === 'true' || value.value === 'false')) {
      return value.value === 'true';
    }
    return value.type === 'word' && /^-?\d+(\.\d+)?$/.test(value.value)
      ? Number(value.value)
      : value.value;
  }
}

function toRule(path: string, attributes: Map<string, unknown>): PathRule {
  if (path.includes('+*')) {
    throw new PolicyParseError(`path "${path}": invalid use of wildcards ('+*' is forbidden)`);
  }
  const names: unknown[] = [];
  for (const [key, value] of attributes) {
    if (key === 'capabilities') {
      if (!Array.isArray(value))
        throw new PolicyParseError(`path "${path}": capabilities must be a list`);
      names.push(...(value as unknown[]));
    } else if (key === 'policy') {
      const legacy = typeof value === 'string' ? LEGACY_POLICIES[value] : undefined;
      if (legacy === undefined) {
        throw new PolicyParseError(`path "${path}": invalid policy "${String(value)}"`);
      }
      names.push(...legacy);
    } else if (UNSUPPORTED_ATTRIBUTES.has(key)) {
      throw new PolicyParseError(
        `path "${path}": "${key}" is not supported by the Vault test server`,
      );
    } else {
      throw new PolicyParseError(`path "${path}": invalid key "${key}"`);
    }
  }
  const capabilities = new Set<Capability>();
  for (const name of names) {
    if (!(CAPABILITIES as readonly unknown[]).includes(name)) {
      throw new PolicyParseError(`path "${path}": invalid capability "${String(name)}"`);
    }
    capabilities.add(name as Capability);
  }
  // An explicit deny makes every other capability on the path irrelevant.
  if (capabilities.has('deny'))
    return { path: path.replace(/^\//, ''), capabilities: new Set(['deny']) };
  return { path: path.replace(/^\//, ''), capabilities };
}

function parseJsonPolicy(document: unknown): PathRule[] {
  if (!isJsonObject(document)) throw new PolicyParseError('policy must be a JSON object');
  const rules: PathRule[] = [];
  for (const [key, value] of Object.entries(document)) {
    if (key === 'name') continue;
    if (key !== 'path') throw new PolicyParseError(`invalid key "${key}"`);
    const blocks = Array.isArray(value) ? value : [value];
    for (const block of blocks) {
      if (!isJsonObject(block)) throw new PolicyParseError('"path" must map paths to objects');
      for (const [path, body] of Object.entries(block)) {
        if (!isJsonObject(body)) throw new PolicyParseError(`path "${path}" must be an object`);
        rules.push(toRule(path, new Map(Object.entries(body))));
      }
    }
  }
  return rules;
}

/** Parses an ACL policy in HCL (or its JSON form), as `vault policy write` accepts it. */
export function parsePolicy(text: string): PathRule[] {
  if (text.trimStart().startsWith('{')) {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      throw new PolicyParseError(`invalid JSON policy: ${(error as Error).message}`);
    }
    return parseJsonPolicy(document);
  }
  const reader = new HclReader(tokenize(text));
  const rules: PathRule[] = [];
  while (!reader.done()) {
    const block = reader.readPathBlock();
    rules.push(toRule(block.path, block.attributes));
  }
  return rules;
}

const OPERATION_CAPABILITY: Record<Operation, Capability> = {
  create: 'create',
  read: 'read',
  update: 'update',
  delete: 'delete',
  list: 'list',
  patch: 'patch',
};

interface WildcardMatch {
  firstWildcard: number;
  isPrefix: boolean;
  wildcards: number;
  path: string;
  capabilities: Set<Capability>;
}

/**
 * Vault's ordering of non-exact matches (lowest priority first): a wildcard or glob that occurs
 * earlier loses; a glob loses to a non-glob; more `+` segments lose; a shorter path loses; finally
 * the lexically smaller path loses.
 */
function compareMatches(a: WildcardMatch, b: WildcardMatch): number {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard - b.firstWildcard;
  if (a.isPrefix !== b.isPrefix) return a.isPrefix ? -1 : 1;
  if (a.wildcards !== b.wildcards) return b.wildcards - a.wildcards;
  if (a.path.length !== b.path.length) return a.path.length - b.path.length;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function mergeInto(
  target: Map<string, Set<Capability>>,
  key: string,
  capabilities: Set<Capability>,
): void {
  const existing = target.get(key);
  if (existing === undefined) {
    target.set(key, new Set(capabilities));
  } else if (existing.has('deny')) {
    // Once a path is denied, nothing granted elsewhere for the same path counts.
  } else if (capabilities.has('deny')) {
    target.set(key, new Set(['deny']));
  } else {
    for (const capability of capabilities) existing.add(capability);
  }
}

/**
 * The union of a token's policies, evaluated the way Vault's ACL does: an exact path rule wins;
 * otherwise the highest-priority glob (`*` suffix) or segment wildcard (`+`) rule applies. Rules
 * for the same path from several policies are merged, and `deny` there beats everything else.
 */
export class Acl {
  private readonly exact = new Map<string, Set<Capability>>();
  private readonly prefix = new Map<string, Set<Capability>>();
  private readonly segmentWildcards = new Map<string, Set<Capability>>();

  constructor(
    readonly isRoot: boolean,
    rules: PathRule[],
  ) {
    for (const rule of rules) {
      if (rule.path.includes('+')) {
        mergeInto(this.segmentWildcards, rule.path, rule.capabilities);
      } else if (rule.path.endsWith('*')) {
        mergeInto(this.prefix, rule.path.slice(0, -1), rule.capabilities);
      } else {
        mergeInto(this.exact, rule.path, rule.capabilities);
      }
    }
  }

  allows(operation: Operation, path: string): boolean {
    if (this.isRoot) return true;
    const capabilities = this.lookup(path, operation);
    if (capabilities === undefined || capabilities.has('deny')) return false;
    return capabilities.has(OPERATION_CAPABILITY[operation]);
  }

  hasSudo(path: string): boolean {
    if (this.isRoot) return true;
    const capabilities = this.lookup(path);
    return capabilities !== undefined && !capabilities.has('deny') && capabilities.has('sudo');
  }

  /** What `sys/capabilities-self` reports for a path. */
  capabilities(path: string): string[] {
    if (this.isRoot) return ['root'];
    const capabilities = this.lookup(path);
    if (capabilities === undefined || capabilities.size === 0 || capabilities.has('deny')) {
      return ['deny'];
    }
    return [...capabilities].sort();
  }

  private lookup(path: string, operation?: Operation): Set<Capability> | undefined {
    const exact = this.exact.get(path);
    if (exact !== undefined) return exact;
    // A list request carries a trailing slash; a rule written without it still applies.
    if (operation === 'list') {
      const withoutSlash = this.exact.get(path.replace(/\/$/, ''));
      if (withoutSlash !== undefined) return withoutSlash;
    }
    const candidates: WildcardMatch[] = [];
    let longestPrefix: string | undefined;
    for (const prefix of this.prefix.keys()) {
      if (
        path.startsWith(prefix) &&
        (longestPrefix === undefined || prefix.length > longestPrefix.length)
      ) {
        longestPrefix = prefix;
      }
    }
    if (longestPrefix !== undefined) {
      candidates.push({
        firstWildcard: longestPrefix.length,
        isPrefix: true,
        wildcards: 0,
        path: longestPrefix,
        capabilities: this.prefix.get(longestPrefix) ?? new Set(),
      });
    }
    for (const [rulePath, capabilities] of this.segmentWildcards) {
      const match = matchSegmentWildcard(rulePath, path);
      if (match !== undefined) candidates.push({ ...match, capabilities });
    }
    if (candidates.length === 0) return undefined;
    candidates.sort(compareMatches);
    return candidates[candidates.length - 1].capabilities;
  }
}

function matchSegmentWildcard(
  rulePath: string,
  path: string,
): Omit<WildcardMatch, 'capabilities'> | undefined {
  const isPrefix = rulePath.endsWith('*');
  const pattern = isPrefix ? rulePath.slice(0, -1) : rulePath;
  const ruleParts = pattern.split('/');
  const pathParts = path.split('/');
  if (pathParts.length < ruleParts.length) return undefined;
  if (!isPrefix && ruleParts.length !== pathParts.length) return undefined;
  let wildcards = 0;
  for (let i = 0; i < ruleParts.length; i++) {
    const part = ruleParts[i];
    const isLast = i === ruleParts.length - 1;
    if (part === '+') {
      wildcards++;
    } else if (part !== pathParts[i] && !(isPrefix && isLast && pathParts[i].startsWith(part))) {
      return undefined;
    }
  }
  return { firstWildcard: rulePath.indexOf('+'), isPrefix, wildcards, path: pattern };
}

export interface StoredPolicy {
  name: string;
  text: string;
  rules: PathRule[];
}

/** Named ACL policies; `root` is implicit and `default` is pre-loaded, as in Vault. */
export class PolicyStore {
  private readonly policies = new Map<string, StoredPolicy>();

  constructor() {
    this.write('default', DEFAULT_POLICY);
  }

  /** Parses and stores a policy; throws `PolicyParseError` (or `Error` for `root`). */
  write(name: string, text: string): void {
    const normalized = name.trim().toLowerCase();
    if (normalized === '') throw new Error('policy name is required');
    if (normalized === 'root') throw new Error('cannot update "root" policy');
    this.policies.set(normalized, { name: normalized, text, rules: parsePolicy(text) });
  }

  delete(name: string): void {
    const normalized = name.trim().toLowerCase();
    if (normalized === 'root' || normalized === 'default') {
      throw new Error(`cannot delete "${normalized}" policy`);
    }
    this.policies.delete(normalized);
  }

  get(name: string): StoredPolicy | undefined {
    return this.policies.get(name.trim().toLowerCase());
  }

  names(): string[] {
    return [...this.policies.keys(), 'root'].sort();
  }

  /** Policies that do not exist are ignored, as Vault does. */
  aclFor(policyNames: string[]): Acl {
    const rules = policyNames.flatMap((name) => this.policies.get(name)?.rules ?? []);
    return new Acl(policyNames.includes('root'), rules);
  }
}
