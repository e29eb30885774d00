import { randomBytes } from 'node:crypto';

import type { Clock } from './clock';
import {
  epochSeconds,
  formatGoDuration,
  formatRfc3339Nano,
  NS_PER_SECOND,
  type JsonObject,
} from './go-compat';
import type { AuthBlock } from './logical';

/** Vault's default `default_lease_ttl` and `max_lease_ttl`: 768h (32 days). */
export const DEFAULT_MAX_LEASE_TTL_SECONDS = 768 * 3600;

export interface TokenRecord {
  id: string;
  accessor: string;
  policies: string[];
  displayName: string;
  /** Creation path, e.g. `auth/token/create`; `auth/token/root` for the root token. */
  path: string;
  orphan: boolean;
  meta: Record<string, string> | null;
  /** Namespace the token lives in: `''` for the root namespace, else ending in `/`. */
  namespace: string;
  creationNs: bigint;
  creationTtl: number;
  /** TTL granted by the last creation or renewal; renewals without an increment reuse it. */
  currentTtl: number;
  explicitMaxTtl: number;
  renewable: boolean;
  /** `null` when the token never expires (root tokens): it then has no lease at all. */
  expireNs: bigint | null;
  lastRenewalNs: bigint | null;
}

export interface TokenSpec {
  policies: string[];
  /** Omitted: Vault's default TTL, or no expiry for a root-policy token. 0: never expires. */
  ttlSeconds?: number;
  renewable?: boolean;
  explicitMaxTtlSeconds?: number;
  displayName?: string;
  noDefaultPolicy?: boolean;
  meta?: Record<string, string>;
  namespace?: string;
  id?: string;
}

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomBase62(length: number): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  for (let i = 0; out.length < length && i < bytes.length; i++) {
    // Rejection sampling keeps the distribution uniform.
    if (bytes[i] < 248) out += BASE62[bytes[i] % 62];
  }
  return out.length === length ? out : randomBase62(length);
}

export function newServiceTokenId(): string {
  return `hvs.${randomBase62(24)}`;
}

/** `policyutil.SanitizePolicies`: lower-case, de-duplicated, sorted, `root` swallows the rest. */
export function sanitizePolicies(policies: string[], addDefault: boolean): string[] {
  const cleaned = policies.map((policy) => policy.trim().toLowerCase()).filter((p) => p !== '');
  if (cleaned.includes('root')) return ['root'];
  if (addDefault && !cleaned.includes('default')) cleaned.push('default');
  return [...new Set(cleaned)].sort();
}

export function normalizeNamespace(namespace: string | undefined): string {
  const trimmed = (namespace ?? '').trim().replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

export type RenewResult =
  { ok: true; ttl: number; warnings: string[] } | { ok: false; status: number; message: string };

/** Service tokens, their leases and renewal, following Vault's token store. */
export class TokenStore {
  private readonly tokens = new Map<string, TokenRecord>();

  constructor(
    private readonly clock: Clock,
    private readonly maxLeaseTtl: number,
  ) {}

  createRoot(id: string): TokenRecord {
    const token: TokenRecord = {
      id,
      accessor: randomBase62(24),
      policies: ['root'],
      displayName: 'root',
      path: 'auth/token/root',
      orphan: true,
      meta: null,
      namespace: '',
      creationNs: this.clock.nowNs(),
      creationTtl: 0,
      currentTtl: 0,
      explicitMaxTtl: 0,
      renewable: false,
      expireNs: null,
      lastRenewalNs: null,
    };
    this.tokens.set(id, token);
    return token;
  }

  /**
   * Creates a child token as `auth/token/create` does: the TTL defaults to the system default and
   * is capped by the explicit max TTL and the system max TTL, with Vault's warning when capped.
   */
  create(spec: TokenSpec): { token: TokenRecord; warnings: string[] } {
    const policies = sanitizePolicies(spec.policies, spec.noDefaultPolicy !== true);
    const explicitMaxTtl = spec.explicitMaxTtlSeconds ?? 0;
    const warnings: string[] = [];
    let ttl = spec.ttlSeconds ?? (policies.includes('root') ? 0 : this.maxLeaseTtl);
    if (ttl > 0) {
      const maxTtl =
        explicitMaxTtl > 0 ? Math.min(explicitMaxTtl, this.maxLeaseTtl) : this.maxLeaseTtl;
      if (ttl > maxTtl) {
        warnings.push(ttlCappedWarning(ttl, maxTtl));
        ttl = maxTtl;
      }
    }
    const id = spec.id ?? newServiceTokenId();
    if (this.tokens.has(id)) throw new Error('cannot create a token with a duplicate ID');
    const creationNs = this.clock.nowNs();
    const displayName = spec.displayName
      ? `token-${spec.displayName}`.replace(/[^a-zA-Z0-9-]+/g, '-').replace(/-$/, '')
      : 'token';
    const token: TokenRecord = {
      id,
      accessor: randomBase62(24),
      policies,
      displayName,
      path: 'auth/token/create',
      orphan: false,
      meta: spec.meta && Object.keys(spec.meta).length > 0 ? { ...spec.meta } : null,
      namespace: normalizeNamespace(spec.namespace),
      creationNs,
      creationTtl: ttl,
      currentTtl: ttl,
      explicitMaxTtl,
      renewable: spec.renewable ?? true,
      expireNs: ttl > 0 ? creationNs + BigInt(ttl) * NS_PER_SECOND : null,
      lastRenewalNs: null,
    };
    this.tokens.set(id, token);
    return { token, warnings };
  }

  /** Expired tokens are revoked on first sight, as Vault's token store does. */
  lookup(id: string): TokenRecord | undefined {
    const token = this.tokens.get(id);
    if (token === undefined) return undefined;
    if (token.expireNs !== null && token.expireNs <= this.clock.nowNs()) {
      this.tokens.delete(id);
      return undefined;
    }
    return token;
  }

  revoke(id: string): void {
    this.tokens.delete(id);
  }

  /** Seconds left, rounded like Vault's `ttl` field; 0 for a token that never expires. */
  remainingTtl(token: TokenRecord): number {
    if (token.expireNs === null) return 0;
    const leftNs = token.expireNs - this.clock.nowNs();
    return Math.max(0, Math.round(Number(leftNs) / 1e9));
  }

  /** `framework.CalculateTTL` as used by the expiration manager when renewing a token. */
  renew(token: TokenRecord, incrementSeconds: number): RenewResult {
    if (token.expireNs === null || !token.renewable) {
      return { ok: false, status: 400, message: 'lease is not renewable' };
    }
    const nowNs = this.clock.nowNs();
    const maxTtl =
      token.explicitMaxTtl > 0
        ? Math.min(token.explicitMaxTtl, this.maxLeaseTtl)
        : this.maxLeaseTtl;
    let ttl = incrementSeconds > 0 ? incrementSeconds : token.currentTtl;
    // Vault truncates both instants to whole seconds before comparing.
    const maxValidTtl = epochSeconds(token.creationNs) + maxTtl - epochSeconds(nowNs);
    if (maxValidTtl <= 0) {
      return { ok: false, status: 500, message: 'past the max TTL, cannot renew' };
    }
    const warnings: string[] = [];
    if (ttl > maxValidTtl) {
      warnings.push(ttlCappedWarning(ttl, maxValidTtl));
      ttl = maxValidTtl;
    }
    token.currentTtl = ttl;
    token.expireNs = nowNs + BigInt(ttl) * NS_PER_SECOND;
    token.lastRenewalNs = nowNs;
    return { ok: true, ttl, warnings };
  }

  /** The `data` of `auth/token/lookup-self`. */
  lookupData(token: TokenRecord): JsonObject {
    const data: JsonObject = {
      accessor: token.accessor,
      creation_time: epochSeconds(token.creationNs),
      creation_ttl: token.creationTtl,
      display_name: token.displayName,
      entity_id: '',
      expire_time: null,
      explicit_max_ttl: token.explicitMaxTtl,
      id: token.id,
      meta: token.meta,
      num_uses: 0,
      orphan: token.orphan,
      path: token.path,
      policies: [...token.policies],
      ttl: 0,
      type: 'service',
    };
    if (token.namespace !== '') data.namespace_path = token.namespace;
    // Lease details only exist for tokens that expire; a root token has none.
    if (token.expireNs !== null) {
      data.expire_time = formatRfc3339Nano(token.expireNs);
      data.ttl = this.remainingTtl(token);
      data.renewable = token.renewable;
      data.issue_time = formatRfc3339Nano(token.creationNs);
      if (token.lastRenewalNs !== null) {
        data.last_renewal_time = epochSeconds(token.lastRenewalNs);
        data.last_renewal = formatRfc3339Nano(token.lastRenewalNs);
      }
    }
    return data;
  }

  /** The `auth` block returned by token creation and renewal. */
  authBlock(token: TokenRecord, leaseDuration: number): AuthBlock {
    return {
      client_token: token.id,
      accessor: token.accessor,
      policies: [...token.policies],
      token_policies: [...token.policies],
      metadata: token.meta === null ? null : { ...token.meta },
      lease_duration: leaseDuration,
      renewable: token.expireNs !== null && token.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: token.orphan,
      mfa_requirement: null,
      num_uses: 0,
    };
  }
}

function ttlCappedWarning(requested: number, allowed: number): string {
  return `TTL of "${formatGoDuration(requested)}" exceeded the effective max_ttl of "${formatGoDuration(allowed)}"; TTL value is capped accordingly`;
}
